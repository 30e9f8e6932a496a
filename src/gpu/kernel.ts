/**
 * Kernels: one WGSL source (one .wgsl file) plus its interface, declared once in TypeScript.
 *
 *   const ACCUMULATE = defineKernel({
 *     name: 'accumulate', code,               // the .wgsl file's base name and text
 *     params: { count: 'u32' },               // the fields of its `struct Params`, in order
 *     bindings: ['acc', 'g'],                 // the names of its storage bindings
 *   });
 *   const k = await e.kernel(ACCUMULATE, { overrides: { WG: 256 } });
 *   e.dispatch(k, { acc, g }, { count: acc.size }, grid1d(acc.size, 256));
 *
 * The declaration is checked against the shader when the pipeline is built: the shader's
 * `struct Params` must have exactly the declared fields, names and types in that order, and
 * every storage binding it declares must be a declared name. Dispatches pass uniforms and
 * bindings by name (the types make a missing one a compile error), so a missing or swapped
 * field or a binding renumbered under `#if` cannot go unnoticed. Uniform values are packed
 * with WGSL's uniform layout rules from the declared types.
 *
 * The preprocessor resolves `#if NAME` / `#elif NAME` / `#else` / `#endif` (NAME from
 * `defines`; absent means false) and `#include "name"` (a snippet listed in the definition's
 * `includes`, itself preprocessed, included once). It keeps a map from every line it emits to
 * the file and line it came from, so compiler messages name the real source line. Variants are
 * compiled once per device and cached by their label (name, defines, overrides).
 */
import { ShaderError } from '../core/errors';

export type Defines = Readonly<Record<string, boolean>>;
export type Overrides = Readonly<Record<string, number>>;

export type ScalarType = 'u32' | 'i32' | 'f32';
export type VectorType = 'vec4u' | 'vec4i' | 'vec4f';
export type ArrayType = `array<${VectorType}, ${number}>`;
/** A field type of a `struct Params` (written as in WGSL; `vec4<u32>` is read as `vec4u`). */
export type ParamType = ScalarType | VectorType | ArrayType;
export type ParamDecl = Readonly<Record<string, ParamType>>;
/** Values for the declared fields: a number per scalar, 4 numbers per vec4, 4·n per array. */
export type ParamValues<P extends ParamDecl> = {
  readonly [K in keyof P]: P[K] extends ScalarType ? number : readonly number[];
};

/** A WGSL snippet that kernels pull in with `#include "name"` (a file in shaders/include/). */
export interface Include {
  readonly name: string;
  readonly code: string;
}

export interface KernelDef<P extends ParamDecl = ParamDecl, B extends string = string> {
  /** Kernel label, used in errors and GPU debug labels: the .wgsl file's base name. */
  readonly name: string;
  readonly code: string;
  /** The fields of the shader's `struct Params` in declaration order ({} for a shader without one). */
  readonly params: P;
  /** Every storage binding any variant of the shader declares, by name. */
  readonly bindings: readonly B[];
  readonly includes?: readonly Include[];
}

/** Declare a kernel (identity at run time; keeps the literal types of params and bindings). */
export function defineKernel<const P extends ParamDecl, const B extends string>(def: KernelDef<P, B>): KernelDef<P, B> {
  return def;
}

export interface Variant {
  defines?: Defines;
  overrides?: Overrides;
}

/** Where each field of a Params struct lives in the uniform buffer. */
export interface ParamLayout {
  readonly fields: readonly { name: string; type: ParamType; offset: number; words: number }[];
  /** Bytes, a multiple of 16. */
  readonly size: number;
}

export interface Kernel<P extends ParamDecl = ParamDecl, B extends string = string> {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly def: KernelDef<P, B>;
  /** Null when the shader has no uniform Params. */
  readonly layout: ParamLayout | null;
  /** Binding number of the uniform Params. */
  readonly paramsSlot: number;
  /** Binding number of each storage binding this variant declares. */
  readonly slots: ReadonlyMap<string, number>;
}

// ------------------------------------------------------------------------------ preprocessor

export interface Preprocessed {
  code: string;
  /** For output line i + 1: the file (kernel or include name) and line it came from. */
  origin: { file: string; line: number }[];
}

/**
 * Resolve `#if`/`#elif`/`#else`/`#endif` and `#include` in `code` (named `name` in messages).
 * Throws Error with the file and line on a malformed directive or an unknown include.
 */
export function preprocess(
  name: string,
  code: string,
  defines: Defines = {},
  includes: readonly Include[] = [],
): Preprocessed {
  const out: string[] = [];
  const origin: Preprocessed['origin'] = [];
  const included = new Set<string>();
  const lib = new Map(includes.map((i) => [i.name, i.code]));

  const run = (file: string, text: string, chain: string[]) => {
    // Each open #if: whether its enclosing block is active, whether a branch was taken, whether
    // the current branch is active, whether #else was seen.
    const stack: { outer: boolean; taken: boolean; active: boolean; sawElse: boolean }[] = [];
    const active = () => stack.length === 0 || stack[stack.length - 1].active;
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const where = `${file}.wgsl:${i + 1}`;
      const d = /^\s*#(\w+)\b\s*(.*?)\s*$/.exec(line);
      if (!d) {
        if (active()) {
          out.push(line);
          origin.push({ file, line: i + 1 });
        }
        return;
      }
      const [, dir, arg] = d;
      const top = stack[stack.length - 1];
      const flag = () => {
        if (!/^[A-Za-z_]\w*$/.test(arg)) throw new Error(`${where}: #${dir} needs one name, got '${arg}'`);
        return !!defines[arg];
      };
      switch (dir) {
        case 'if': {
          const outer = active();
          const v = outer && flag();
          stack.push({ outer, taken: v, active: v, sawElse: false });
          return;
        }
        case 'elif': {
          if (!top || top.sawElse) throw new Error(`${where}: #elif without #if`);
          const v = top.outer && !top.taken && flag();
          top.active = v;
          top.taken ||= v;
          return;
        }
        case 'else':
          if (!top || top.sawElse) throw new Error(`${where}: #else without #if`);
          top.active = top.outer && !top.taken;
          top.taken = true;
          top.sawElse = true;
          return;
        case 'endif':
          if (!top) throw new Error(`${where}: #endif without #if`);
          stack.pop();
          return;
        case 'include': {
          if (!active()) return;
          const m = /^"([\w-]+)"$/.exec(arg);
          if (!m) throw new Error(`${where}: #include needs a quoted name, got '${arg}'`);
          const inc = m[1];
          if (chain.includes(inc)) throw new Error(`${where}: #include "${inc}" is circular`);
          if (included.has(inc)) return;
          const src = lib.get(inc);
          if (src === undefined) {
            throw new Error(`${where}: #include "${inc}" is not among this kernel's includes`);
          }
          included.add(inc);
          run(inc, src, [...chain, inc]);
          return;
        }
        default:
          throw new Error(`${where}: unknown directive #${dir}`);
      }
    });
    if (stack.length) throw new Error(`${file}.wgsl: ${stack.length} #if without #endif`);
  };
  run(name, code, [name]);
  return { code: out.join('\n'), origin };
}

export function variantLabel(name: string, v: Variant = {}): string {
  const d = Object.entries(v.defines ?? {})
    .filter(([, on]) => on)
    .map(([k]) => k)
    .sort();
  const o = Object.entries(v.overrides ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, x]) => `${k}=${x}`);
  const parts = [...d, ...o];
  return parts.length ? `${name}[${parts.join(',')}]` : name;
}

/**
 * A generated kernel's source: `template` (a .wgsl file with {{name}} placeholders) with each
 * placeholder replaced by parts[name]. Comment lines are left alone: they name the placeholders.
 */
export function fillTemplate(template: string, parts: Record<string, string>): string {
  return template
    .split('\n')
    .map((line) =>
      line.trimStart().startsWith('//')
        ? line
        : line.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
            const v = parts[name];
            if (v === undefined) throw new Error(`template part {{${name}}} is not given`);
            return v;
          }),
    )
    .join('\n');
}

const generated = new Map<string, KernelDef>();

/**
 * A kernel definition generated from a template, made once per `key` (a key names what was
 * filled in, e.g. 'channel_weights.gradcam,xgradcam'), so the kernel cache sees one source per
 * name.
 */
export function generatedKernel<P extends ParamDecl, B extends string>(
  key: string,
  make: () => KernelDef<P, B>,
): KernelDef<P, B> {
  let def = generated.get(key);
  if (!def) generated.set(key, (def = make() as unknown as KernelDef));
  return def as unknown as KernelDef<P, B>;
}

// ------------------------------------------------------------------------------ interface

const TYPE_ALIASES: Record<string, string> = { 'vec4<u32>': 'vec4u', 'vec4<i32>': 'vec4i', 'vec4<f32>': 'vec4f' };

function normType(t: string): string {
  const s = t.replace(/\s+/g, '');
  const arr = /^array<(.+),(\d+)u?>$/.exec(s);
  if (arr) return `array<${TYPE_ALIASES[arr[1]] ?? arr[1]}, ${arr[2]}>`;
  return TYPE_ALIASES[s] ?? s;
}

/** The shader's interface: its Params fields and its bindings, after preprocessing. */
export interface ShaderInterface {
  params: { name: string; type: string }[] | null;
  paramsSlot: number;
  storage: Map<string, number>;
}

/** Read `struct Params { … }` and the `@group(0) @binding(n) var<…> name` declarations. */
export function shaderInterface(code: string): ShaderInterface {
  const noComments = code.replace(/\/\/[^\n]*/g, '');
  let params: ShaderInterface['params'] = null;
  const s = /struct\s+Params\s*\{([^}]*)\}/.exec(noComments);
  if (s) {
    // Fields are separated by commas outside <…> (array<vec4u, 2> has one inside).
    params = s[1]
      .split(/,(?![^<]*>)/)
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => {
        const m = /^(\w+)\s*:\s*(.+)$/.exec(f);
        return { name: m ? m[1] : f, type: m ? normType(m[2]) : '?' };
      });
  }
  let paramsSlot = -1;
  const storage = new Map<string, number>();
  const re = /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*(\w+)[^>]*>\s*(\w+)\s*:\s*([^;]+);/g;
  for (const m of noComments.matchAll(re)) {
    const slot = Number(m[1]);
    if (m[2] === 'uniform') {
      if (m[4].trim() === 'Params') paramsSlot = slot;
    } else {
      storage.set(m[3], slot);
    }
  }
  return { params, paramsSlot, storage };
}

const ALIGN: Record<string, number> = { u32: 4, i32: 4, f32: 4, vec4u: 16, vec4i: 16, vec4f: 16 };

/** Offsets by WGSL's uniform layout rules (scalars 4-aligned, vec4 and arrays of vec4 16). */
export function paramLayout(decl: ParamDecl): ParamLayout {
  let offset = 0;
  const fields = Object.entries(decl).map(([name, type]) => {
    const arr = /^array<(\w+), (\d+)>$/.exec(type);
    const align = arr ? 16 : ALIGN[type];
    const words = arr ? 4 * Number(arr[2]) : align / 4;
    offset = Math.ceil(offset / align) * align;
    const f = { name, type, offset, words };
    offset += words * 4;
    return f;
  });
  return { fields, size: Math.max(16, Math.ceil(offset / 16) * 16) };
}

/**
 * Write `values` for `layout` at `byteOffset` of `target`. u32 fields take integers in
 * [−2^31, 2^32): a negative value is stored as its two's-complement bits (shaders that need a
 * signed value there read it back with bitcast<i32>).
 */
export function packParams(
  label: string,
  layout: ParamLayout,
  values: Readonly<Record<string, number | readonly number[]>>,
  target: ArrayBuffer,
  byteOffset: number,
): void {
  const dv = new DataView(target, byteOffset, layout.size);
  for (const f of layout.fields) {
    const v = values[f.name];
    const list = typeof v === 'number' ? [v] : v;
    if (!list || list.length !== f.words) {
      throw new ShaderError(label, `uniform '${f.name}' (${f.type}) needs ${f.words} value(s), got ${String(v)}`);
    }
    const kind = wordKind(f.type);
    list.forEach((x, i) => {
      const at = f.offset + 4 * i;
      if (kind === 'f') {
        dv.setFloat32(at, x, true);
        return;
      }
      if (!Number.isInteger(x) || x < -(2 ** 31) || x >= (kind === 'u' ? 2 ** 32 : 2 ** 31)) {
        throw new ShaderError(label, `uniform '${f.name}' (${f.type}) got ${x}, not a ${kind === 'u' ? 'u32' : 'i32'}`);
      }
      if (kind === 'u') dv.setUint32(at, x >>> 0, true);
      else dv.setInt32(at, x, true);
    });
  }
}

/** 'u', 'i' or 'f': how the words of a field are stored. */
function wordKind(type: ParamType): 'u' | 'i' | 'f' {
  const scalar = /^(u32|i32|f32)$/.test(type);
  const vec = /vec4([uif])/.exec(type);
  return (scalar ? type[0] : vec![1]) as 'u' | 'i' | 'f';
}

/** Checks the declaration against the shader; returns the problems (empty when they agree). */
export function checkInterface(def: KernelDef, iface: ShaderInterface): string[] {
  const problems: string[] = [];
  const want = Object.entries(def.params).map(([name, type]) => ({ name, type: normType(type) }));
  const got = iface.params ?? [];
  if (want.length && !iface.params) problems.push('the shader has no struct Params, the definition declares one');
  if (iface.params && iface.paramsSlot < 0) problems.push('struct Params is not bound as var<uniform>');
  const n = Math.max(want.length, got.length);
  for (let i = 0; i < n; i++) {
    const a = want[i];
    const b = got[i];
    if (!a || !b || a.name !== b.name || a.type !== b.type) {
      const fmt = (f?: { name: string; type: string }) => (f ? `'${f.name}: ${f.type}'` : 'nothing');
      problems.push(`Params field ${i} is ${fmt(b)} in the shader but ${fmt(a)} in the definition`);
    }
  }
  for (const name of iface.storage.keys()) {
    if (!def.bindings.includes(name)) problems.push(`the shader binds '${name}', which the definition does not list`);
  }
  return problems;
}

// ------------------------------------------------------------------------------ cache

/** Per-device cache of compiled kernels, keyed by variant label. */
export class KernelCache {
  readonly #kernels = new Map<string, { code: string; kernel: Promise<Kernel> }>();
  readonly #modules = new Map<string, { code: string; module: GPUShaderModule; iface: ShaderInterface }>();

  constructor(private readonly device: GPUDevice) {}

  get<P extends ParamDecl, B extends string>(def: KernelDef<P, B>, v: Variant = {}): Promise<Kernel<P, B>> {
    const label = variantLabel(def.name, v);
    const hit = this.#kernels.get(label);
    if (hit) {
      if (hit.code !== def.code) {
        return Promise.reject(new ShaderError(label, 'two different kernel sources share this name'));
      }
      return hit.kernel as unknown as Promise<Kernel<P, B>>;
    }
    const kernel = this.#build(def as unknown as KernelDef, v, label);
    this.#kernels.set(label, { code: def.code, kernel });
    // A failed build is not cached: a later call with fixed input may retry.
    kernel.catch(() => this.#kernels.delete(label));
    return kernel as unknown as Promise<Kernel<P, B>>;
  }

  get size(): number {
    return this.#kernels.size;
  }

  async #build(def: KernelDef, v: Variant, label: string): Promise<Kernel> {
    const device = this.device;
    const moduleKey = variantLabel(def.name, { defines: v.defines });
    let mod = this.#modules.get(moduleKey);
    if (mod && mod.code !== def.code) throw new ShaderError(label, 'two different kernel sources share this name');
    if (!mod) {
      let pre: Preprocessed;
      try {
        pre = preprocess(def.name, def.code, v.defines, def.includes);
      } catch (e) {
        throw new ShaderError(label, `preprocessor: ${(e as Error).message}`);
      }
      const iface = shaderInterface(pre.code);
      const problems = checkInterface(def, iface);
      if (problems.length) throw new ShaderError(label, `interface: ${problems.join('; ')}`);
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: pre.code, label: def.name });
      const info = await module.getCompilationInfo();
      const err = await device.popErrorScope();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length || err) {
        const lines = pre.code.split('\n');
        const msg = errors
          .map((m) => {
            const o = pre.origin[m.lineNum - 1];
            const at = o ? `${o.file}.wgsl:${o.line}` : `${def.name}.wgsl (preprocessed):${m.lineNum}`;
            return `${at}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`;
          })
          .join('\n');
        throw new ShaderError(label, msg || err!.message);
      }
      mod = { code: def.code, module, iface };
      this.#modules.set(moduleKey, mod);
    }
    try {
      const pipeline = await device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module: mod.module, entryPoint: 'main', constants: { ...(v.overrides ?? {}) } },
      });
      const hasParams = Object.keys(def.params).length > 0 || mod.iface.params !== null;
      return {
        label,
        pipeline,
        def,
        layout: hasParams ? paramLayout(def.params) : null,
        paramsSlot: mod.iface.paramsSlot,
        slots: mod.iface.storage,
      };
    } catch (e) {
      throw new ShaderError(label, `pipeline creation failed: ${(e as Error).message}`);
    }
  }
}
