/**
 * Kernels: a WGSL source (one .wgsl file), preprocessed with wgsl-preprocessor (`#if NAME`
 * blocks, NAME given in `defines`), compiled once per device and variant, with `override`
 * constants fixed at pipeline creation. Uniforms are packed with the Uniforms builder in the
 * order the shader's `Params` struct declares its scalar fields.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ShaderError } from '../core/errors';

export type Defines = Readonly<Record<string, boolean>>;
export type Overrides = Readonly<Record<string, number>>;

export interface KernelSpec {
  /** Kernel label, used in errors and GPU debug labels: the .wgsl file's base name. */
  name: string;
  code: string;
  defines?: Defines;
  overrides?: Overrides;
}

export interface Kernel {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
}

/**
 * Resolve `#if NAME` / `#elif NAME` / `#else` / `#endif` with wgsl-preprocessor. A name absent
 * from `defines` is false.
 */
export function preprocess(code: string, defines: Defines = {}): string {
  const strings: string[] = [];
  const values: boolean[] = [];
  const re = /#(if|elif)[ \t]+([A-Za-z_][A-Za-z0-9_]*)/g;
  let last = 0;
  for (const m of code.matchAll(re)) {
    strings.push(code.slice(last, m.index) + `#${m[1]} `);
    values.push(!!defines[m[2]]);
    last = m.index! + m[0].length;
  }
  strings.push(code.slice(last));
  return wgsl(strings, ...values);
}

export function variantLabel(spec: KernelSpec): string {
  const d = Object.entries(spec.defines ?? {})
    .filter(([, v]) => v)
    .map(([k]) => k)
    .sort();
  const o = Object.entries(spec.overrides ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  const parts = [...d, ...o];
  return parts.length ? `${spec.name}[${parts.join(',')}]` : spec.name;
}

/** Per-device cache of compiled kernels, keyed by variant label. */
export class KernelCache {
  readonly #kernels = new Map<string, Promise<Kernel>>();
  readonly #modules = new Map<string, GPUShaderModule>();

  constructor(private readonly device: GPUDevice) {}

  get(spec: KernelSpec): Promise<Kernel> {
    const label = variantLabel(spec);
    let k = this.#kernels.get(label);
    if (!k) {
      k = this.#build(spec, label);
      this.#kernels.set(label, k);
      // A failed build is not cached: a later call with fixed input may retry.
      k.catch(() => this.#kernels.delete(label));
    }
    return k;
  }

  get size(): number {
    return this.#kernels.size;
  }

  async #build(spec: KernelSpec, label: string): Promise<Kernel> {
    const device = this.device;
    const moduleKey = `${spec.name}|${JSON.stringify(spec.defines ?? {})}`;
    let module = this.#modules.get(moduleKey);
    if (!module) {
      let code: string;
      try {
        code = preprocess(spec.code, spec.defines);
      } catch (e) {
        throw new ShaderError(label, `preprocessor: ${(e as Error).message}`);
      }
      device.pushErrorScope('validation');
      module = device.createShaderModule({ code, label: spec.name });
      const info = await module.getCompilationInfo();
      const err = await device.popErrorScope();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length || err) {
        const lines = code.split('\n');
        const msg = errors
          .map(
            (m) =>
              `${spec.name}.wgsl:${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`,
          )
          .join('\n');
        throw new ShaderError(label, msg || err!.message);
      }
      this.#modules.set(moduleKey, module);
    }
    try {
      const pipeline = await device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: { ...(spec.overrides ?? {}) } },
      });
      return { label, pipeline };
    } catch (e) {
      throw new ShaderError(label, `pipeline creation failed: ${(e as Error).message}`);
    }
  }
}

/** Packs the scalar fields of a WGSL `Params` struct (u32, i32, f32; 4 bytes each) in order. */
export class Uniforms {
  readonly #words: number[] = [];
  readonly #kinds: ('u' | 'i' | 'f')[] = [];

  u32(...v: number[]): this {
    for (const x of v) {
      this.#words.push(x >>> 0);
      this.#kinds.push('u');
    }
    return this;
  }
  i32(...v: number[]): this {
    for (const x of v) {
      this.#words.push(x | 0);
      this.#kinds.push('i');
    }
    return this;
  }
  f32(...v: number[]): this {
    for (const x of v) {
      this.#words.push(x);
      this.#kinds.push('f');
    }
    return this;
  }

  /** Bytes, padded to 16 (uniform structs round up to 16). */
  get byteLength(): number {
    return Math.max(16, Math.ceil((this.#words.length * 4) / 16) * 16);
  }

  writeTo(target: ArrayBuffer, byteOffset: number): void {
    const dv = new DataView(target, byteOffset, this.byteLength);
    this.#words.forEach((w, i) => {
      const k = this.#kinds[i];
      if (k === 'f') dv.setFloat32(i * 4, w, true);
      else if (k === 'i') dv.setInt32(i * 4, w, true);
      else dv.setUint32(i * 4, w, true);
    });
  }
}
