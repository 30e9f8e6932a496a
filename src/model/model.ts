/**
 * The GPU executor. A Model holds a validated Graph and its weights on the GPU, and runs each
 * node with its op's GPU implementation (src/ops/registry.ts). It knows nothing of attribution:
 * explain() (src/attribution/explain.ts) is built on forward() and backward().
 *
 * forward() runs the DAG for a batch of N images and keeps exactly what later work needs: the
 * tensors named in `keep`, and for every planned backward target the tensors that the backward
 * ops on its path read (each op's `saves`, src/defs/). Everything else is freed as soon as its
 * last consumer has run. An op that can fuse a ReLU (a conv) does so when the ReLU alone reads
 * its output and the pre-activation is not needed. forwardFrom() runs the same from given
 * tensors (e.g. a layer's activations, edited) instead of the input.
 *
 * backward() takes T seed gradients at the output, stacked as one [T·N, K] batch, and runs one
 * backward pass down to a named tensor (or the input), accumulating where a tensor fans out; or
 * down to the shallowest of a list of tensors, handing out the gradient at each of them.
 */
import type { Engine } from '../gpu/engine';
import type { Recorder } from '../gpu/recorder';
import { GraphError, InvalidInputError, ShapeMismatchError } from '../core/errors';
import { Tensor } from '../gpu/tensor';
import { shapeStr, sizeOf } from '../core/shape';
import { opDef } from '../defs/index';
import { accumulate } from '../ops/accumulate';
import { binaryForward } from '../ops/elementwise';
import { GPU_OPS, type GpuOp, type Grad, type Weights } from '../ops/registry';
import { checkHalves } from '../ops/half';
import { Graph, type GraphNode, type Layer } from './graph';
import { isDeferred, type DeferredWeight, type Scratch } from '../defs/deferred';
import type { GraphSpec, WeightSpec } from './spec';

export interface ForwardOptions {
  /** Tensors to keep after the forward (e.g. the attribution layer, the logits). */
  keep?: readonly string[];
  /** Tensors a later backward() will run down to (the input's name for input gradients). */
  backwardTo?: readonly string[];
  /** Tensor those backward passes start from (default: the output). */
  backwardFrom?: string;
  /** Record into this recorder (default: the engine's own); see Recorder on concurrency. */
  recorder?: Recorder;
}

export interface BackwardOptions {
  /**
   * Tensor to compute the gradient of: a tensor name, or the input's name. A list of distinct
   * tensors: one pass down to the shallowest of them, collecting the gradient at each (each
   * complete, summed over every path to `from`, when taken).
   */
  to: string | readonly string[];
  /** Tensor the seeds are the gradient of (default: the output). */
  from?: string;
  /** Guided backprop: every ReLU's backward also blocks negative gradients. */
  guided?: boolean;
  /** Record into this recorder (default: the engine's own). */
  recorder?: Recorder;
}

/** What a forward run leaves: the output and the kept tensors. Destroy when done. */
export class Activations {
  constructor(
    readonly n: number,
    private readonly values: Map<string, Tensor>,
    readonly output: Tensor,
    /** The caller's tensors (the input, or forwardFrom's given tensors): never destroyed here. */
    private readonly given: ReadonlySet<Tensor>,
    readonly plannedTargets: ReadonlySet<string>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): Tensor {
    const t = this.values.get(name);
    if (!t) throw new GraphError(`tensor '${name}' was not kept by this forward run; pass it in 'keep'`);
    return t;
  }

  /** Free every kept tensor except the caller's own. */
  destroy(): void {
    for (const t of this.values.values()) if (!this.given.has(t)) t.destroy();
    this.values.clear();
  }
}

/** Floats a deferred weight read row by row is read in at a time, by default (16 MiB). */
const DEFERRED_READ_FLOATS = 1 << 22;

/** The rows of a deferred weight read at a time: all when read whole. */
function rowsPerRead(w: DeferredWeight, floats: number): number {
  const d = w.deferred;
  if (d.rows === 0) return 0;
  return Math.min(d.rows, Math.max(1, Math.floor(floats / (sizeOf(w.shape) / d.rows))));
}

/**
 * The scratch buffers of a set of weights' deferred reads: per slot one buffer, as large as the
 * largest read into it (a weight read row by row needs slot 0 only, for its rows read at a
 * time), allocated once (none without deferred weights).
 */
function scratchFor(weights: readonly WeightSpec[], floats: number): Scratch {
  const sizes: number[] = [];
  for (const w of weights) {
    if (!isDeferred(w)) continue;
    const rows = rowsPerRead(w, floats);
    const need = rows > 0 ? [(sizeOf(w.shape) / w.deferred.rows) * rows] : w.deferred.slots;
    need.forEach((n, k) => (sizes[k] = Math.max(sizes[k] ?? 0, n)));
  }
  const buffers = Array.from(sizes, (n) => new Float32Array(n ?? 0));
  return (slot, length) => {
    const b = buffers[slot];
    if (!b || b.length < length) throw new Error(`unreachable: scratch slot ${slot} holds less than ${length}`);
    return b.subarray(0, length);
  };
}

/**
 * A deferred weight on the GPU: read whole and uploaded, or read a few rows at a time, each
 * piece uploaded and copied into its place, then submitted (so that the upload's staging memory
 * is released piece by piece too).
 */
async function uploadDeferred(
  r: Recorder,
  w: DeferredWeight,
  scratch: Scratch,
  floats: number,
  label: string,
  halves = false,
): Promise<Tensor> {
  // With `halves` (weightStorage 'f16'), each piece read is checked against the half range.
  const read = async (first?: number, count?: number) => {
    const data = first === undefined ? await w.deferred.read(scratch) : await w.deferred.read(scratch, first, count);
    if (halves) checkHalves(data, `Model.load: weight '${label}' with weightStorage 'f16'`);
    return data;
  };
  const step = rowsPerRead(w, floats);
  const rows = w.deferred.rows;
  if (step === 0 || step === rows) return r.upload(await read(), w.shape, label);
  const per = sizeOf(w.shape) / rows;
  const out = r.empty(w.shape, label);
  for (let first = 0; first < rows; first += step) {
    const count = Math.min(step, rows - first);
    const piece = r.upload(await read(first, count), [count * per], `${label}:rows`);
    r.copy(piece, out, first * per);
    piece.destroy();
    await r.flush();
  }
  return out;
}

export class Model {
  #destroyed = false;

  private constructor(
    readonly engine: Engine,
    readonly graph: Graph,
    /** Per node, its weights as its op's load() left them. */
    private readonly weights: Map<string, Weights>,
    private readonly weightShapes: Map<string, Readonly<Record<string, readonly number[]>>>,
  ) {}

  /**
   * Validate the spec (shapes, wiring) and upload its weights. Throws typed errors. An op may
   * re-lay its weights out once here (conv weights that the tiled kernels read are packed and
   * kept only in that layout).
   *
   * `releaseHostWeights`: once a node's weights are uploaded, its entries in `spec` (node
   * `weights`) are deleted, so that the host arrays can be collected while the rest uploads; the
   * spec can then not be loaded or run by the CPU reference again. loadOnnx does this for a file
   * it reads itself (a path in Node), whose weights nobody else holds.
   *
   * Deferred weights (src/defs/deferred.ts: loadOnnx of a path defers its large ones) are read
   * here, one after the other, into one set of scratch buffers allocated once, and uploaded from
   * there (the upload copies them): a weight whose values are read row by row (the file's rows,
   * scaled by a folded BatchNormalization or Gemm's alpha) `deferredReadBytes` at a time
   * (default 16 MiB), a transposed one whole. So the host holds at most that, or the largest
   * transposed weight, whatever the model's size. Their values are checked for finiteness as
   * they are uploaded (NonFiniteError), and a failed read rejects with its error, the uploads so
   * far destroyed.
   *
   * `weightStorage` (default 'f32'): 'f16' stores the conv weights that the tiled kernels read
   * and the linear layers' weight matrices as IEEE halves, two per 32-bit word (src/ops/half.ts):
   * half their memory and bandwidth, read back and accumulated in float32 by the kernels, each
   * weight within 2^-10 of its float32 value (relative). Biases, depthwise convs and the backward
   * pass's per-call re-layouts stay float32. A weight beyond ±65504 is an InvalidInputError (a
   * deferred one as it is read). docs/BENCHMARKS.md states the accuracy measured against the
   * float32 reference.
   */
  static async load(
    engine: Engine,
    spec: GraphSpec,
    opts: { releaseHostWeights?: boolean; deferredReadBytes?: number; weightStorage?: 'f32' | 'f16' } = {},
  ): Promise<Model> {
    const graph = new Graph(spec); // checks the spec, weights finite included, before any GPU work
    const weightStorage = opts.weightStorage ?? 'f32';
    if (weightStorage !== 'f32' && weightStorage !== 'f16') {
      throw new InvalidInputError(`Model.load: weightStorage must be 'f32' or 'f16', got '${String(weightStorage)}'`);
    }
    if (weightStorage === 'f16') {
      for (const node of graph.nodes) {
        for (const key of (GPU_OPS[node.op] as GpuOp<unknown>).halves ?? []) {
          const w = node.weights[key];
          // A deferred weight is checked as it is read (uploadDeferred).
          if (w && !isDeferred(w))
            checkHalves(w.data, `Model.load: weight '${node.name}.${key}' with weightStorage 'f16'`);
        }
      }
    }
    const shapes = new Map<string, Record<string, readonly number[]>>();
    const r = engine.recorder('Model.load');
    const floats = Math.max(1, Math.floor((opts.deferredReadBytes ?? DEFERRED_READ_FLOATS * 4) / 4));
    const scratch = scratchFor(
      graph.nodes.flatMap((n) => Object.values(n.weights)),
      floats,
    );
    // run(): on any failure, the uploads and packed copies are destroyed with the recorded work.
    const weights = await r.run(async () => {
      const out = new Map<string, Weights>();
      for (const node of graph.nodes) {
        const w: Record<string, Tensor> = {};
        for (const [key, spec] of Object.entries(node.weights)) {
          const label = `${node.name}.${key}`;
          const halves = weightStorage === 'f16' && !!(GPU_OPS[node.op] as GpuOp<unknown>).halves?.includes(key);
          w[key] = isDeferred(spec)
            ? await uploadDeferred(r, spec, scratch, floats, label, halves)
            : r.upload(spec.data, spec.shape, label);
        }
        out.set(node.name, w);
        shapes.set(node.name, Object.fromEntries(Object.entries(node.weights).map(([k, s]) => [k, s.shape])));
        const impl = GPU_OPS[node.op] as GpuOp<unknown>;
        if (impl.load && Object.keys(w).length) {
          out.set(node.name, await impl.load(r, node.params, w, { weightStorage }));
        }
        if (opts.releaseHostWeights) {
          // The graph node's weights are the spec node's object (Graph keeps it): one delete each.
          const held = node.weights as Record<string, unknown>;
          for (const key of Object.keys(held)) delete held[key];
        }
      }
      return out;
    });
    return new Model(engine, graph, weights, shapes);
  }

  get spec(): GraphSpec {
    return this.graph.spec;
  }

  /** [C, H, W] of one input image. */
  get inputShape(): [number, number, number] {
    return this.graph.spec.input.shape;
  }

  /**
   * The layers one can explain at, in graph order: every 4-D tensor with h·w > 1 that the
   * scores depend on, with its tensor name, its module names (torch.onnx exports) and shape
   * [C, H, W]. explain()'s `layer` takes either name (Graph.layer()).
   */
  layers(): Layer[] {
    return this.graph.layers();
  }

  get weightBytes(): number {
    let b = 0;
    for (const w of this.weights.values()) for (const t of Object.values(w)) b += t.size * 4;
    return b;
  }

  /** True once destroy() was called: the model can no longer run. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Free the weights. Idempotent; every later use of the model throws InvalidInputError. */
  destroy(): void {
    this.#destroyed = true;
    for (const w of this.weights.values()) for (const t of Object.values(w)) t.destroy();
    this.weights.clear();
  }

  /** Throws InvalidInputError when the model was destroyed. */
  checkUsable(): void {
    if (this.#destroyed) {
      throw new InvalidInputError(`model '${this.graph.spec.name ?? this.graph.output}' was destroyed; load it again`);
    }
  }

  /**
   * A weight by '<node>.<key>' (e.g. 'fc.weight'). A conv's weight may be held packed for the
   * tiled kernels ([G, Cin/G, KH, KW, Cout/G rounded up to 4], see conv2dPackWeights). With
   * weightStorage 'f16' a conv or linear weight is a word tensor of halves (isHalves,
   * src/ops/half.ts).
   */
  weight(name: string): Tensor {
    this.checkUsable();
    const dot = name.lastIndexOf('.');
    const t = dot > 0 ? this.weights.get(name.slice(0, dot))?.[name.slice(dot + 1)] : undefined;
    if (!t) throw new GraphError(`the model has no weight '${name}'`);
    return t;
  }

  /**
   * Check an input batch: a live tensor of this model's engine, [N, C, H, W] with C, H, W those
   * of the model. Returns N. Throws InvalidInputError (ShapeMismatchError for the shape), and so
   * does a destroyed model.
   */
  checkInput(x: Tensor): number {
    this.checkUsable();
    this.#checkTensor(x, `model input '${this.graph.input}'`);
    const [c, h, w] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== c || x.shape[2] !== h || x.shape[3] !== w) {
      throw new ShapeMismatchError(
        `model input '${this.graph.input}' must be [N, ${c}, ${h}, ${w}], got ${shapeStr(x.shape)}`,
      );
    }
    return x.shape[0];
  }

  /** A live Tensor of this model's engine, else InvalidInputError. */
  #checkTensor(x: unknown, what: string): void {
    if (!(x instanceof Tensor)) {
      throw new InvalidInputError(`${what} must be a Tensor, got ${x === null ? 'null' : typeof x}`);
    }
    if (x.destroyed) throw new InvalidInputError(`${what} (tensor '${x.label}') was destroyed`);
    if (x.engine !== this.engine) {
      throw new InvalidInputError(
        `${what} (tensor '${x.label}') belongs to another engine than the model; upload it with the model's engine`,
      );
    }
  }

  async forward(x: Tensor, opts: ForwardOptions = {}): Promise<Activations> {
    this.checkInput(x);
    return this.forwardFrom({ [this.graph.input]: x }, opts);
  }

  /**
   * The forward pass from given tensors instead of the input: every node the output depends on
   * that the given tensors do not already determine runs. Each given tensor must have its
   * graph shape for one batch N (the same N for all); the nodes that run must not need the graph
   * input unless it is given. The caller keeps ownership of the given tensors.
   */
  async forwardFrom(given: Readonly<Record<string, Tensor>>, opts: ForwardOptions = {}): Promise<Activations> {
    this.checkUsable();
    const g = this.graph;
    const names = Object.keys(given);
    if (names.length === 0) throw new GraphError('forwardFrom: no tensors given');
    let n = 0;
    for (const name of names) {
      if (!g.has(name)) throw g.notFound(name);
      const t = given[name];
      this.#checkTensor(t, `tensor '${name}'`);
      const want = g.shape(name, t.shape[0]);
      if (t.rank !== want.length || t.shape.some((d, i) => d !== want[i]) || (n && t.shape[0] !== n)) {
        throw new ShapeMismatchError(
          `tensor '${name}' must be [N, ${want.slice(1).join(', ')}]${n ? ` with N = ${n}` : ''}, got ${shapeStr(t.shape)}`,
        );
      }
      n = t.shape[0];
    }
    for (const k of opts.keep ?? []) if (!g.has(k)) throw g.notFound(k);
    if (opts.backwardFrom && !g.has(opts.backwardFrom)) throw g.notFound(opts.backwardFrom);
    const run = this.#nodesFrom(new Set(names));
    const retained = new Set<string>([
      g.output,
      ...(opts.keep ?? []),
      ...g.savedFor(opts.backwardTo ?? [], opts.backwardFrom),
    ]);
    for (const k of retained) {
      if (!given[k] && !run.some((node) => node.output === k)) {
        throw new GraphError(`tensor '${k}' is needed but not computed from the given tensors (${names.join(', ')})`);
      }
    }
    const uses = new Map<string, number>();
    for (const node of run) for (const i of node.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);

    const values = new Map<string, Tensor>(Object.entries(given));
    const mine = (name: string) => !(name in given);
    const skip = new Set<GraphNode>();
    const e = opts.recorder ?? this.engine;
    try {
      for (const node of run) {
        if (skip.has(node)) continue;
        const impl = GPU_OPS[node.op] as GpuOp<unknown>;
        const relu = impl.fusesRelu ? this.#fusableRelu(node, retained) : null;
        const out = await impl.forward(e, {
          params: node.params,
          inputs: node.inputs.map((i) => values.get(i)!),
          weights: this.weights.get(node.name)!,
          weightShapes: this.weightShapes.get(node.name)!,
          outShape: g.shape(node.output, n),
          relu: !!relu,
        });
        if (relu) skip.add(relu);
        values.set(relu ? relu.output : node.output, out);
        for (const i of node.inputs) {
          const left = uses.get(i)! - 1;
          uses.set(i, left);
          if (left === 0 && !retained.has(i) && mine(i)) {
            values.get(i)?.destroy();
            values.delete(i);
          }
        }
      }
    } catch (err) {
      for (const [k, t] of values) if (mine(k)) t.destroy();
      throw err;
    }
    for (const [k, t] of values) {
      if (!retained.has(k) && mine(k)) {
        t.destroy();
        values.delete(k);
      }
    }
    return new Activations(
      n,
      values,
      values.get(g.output)!,
      new Set(Object.values(given)),
      new Set(opts.backwardTo ?? []),
    );
  }

  /** The nodes the output needs that the tensors in `known` do not determine, in order. */
  #nodesFrom(known: ReadonlySet<string>): GraphNode[] {
    const g = this.graph;
    const needed = new Set<string>();
    // `path`: the tensors from the output down to t, for the error message.
    const visit = (t: string, path: string[]) => {
      if (known.has(t) || needed.has(t)) return;
      const node = g.producer.get(t);
      if (!node) {
        throw new GraphError(
          `the output depends on the graph input '${t}' (through ${path.map((p) => `'${p}'`).join(' ← ')}), ` +
            `which the given tensors (${[...known].join(', ')}) do not determine; give it too`,
        );
      }
      needed.add(t);
      for (const i of node.inputs) visit(i, [...path, t]);
    };
    visit(g.output, []);
    return g.nodes.filter((node) => needed.has(node.output));
  }

  /** The ReLU that alone consumes a node's output, when the pre-activation is not needed. */
  #fusableRelu(node: GraphNode, retained: Set<string>): GraphNode | null {
    const cons = this.graph.consumers.get(node.output) ?? [];
    if (cons.length !== 1 || cons[0].op !== 'relu' || retained.has(node.output)) return null;
    return cons[0];
  }

  /**
   * One backward pass for T targets. `seeds` is [T·N, K] (row t·N + i: target t, image i).
   * Returns the gradient at `opts.to`, [T·N, ...shape of that tensor]; with a list of tensors
   * in `to`, their gradients in that order, from the same pass (the nodes on a path from any
   * of them to `from`, each run once). The caller owns them.
   */
  backward(acts: Activations, seeds: Tensor, opts: BackwardOptions & { to: string }): Promise<Tensor>;
  backward(acts: Activations, seeds: Tensor, opts: BackwardOptions & { to: readonly string[] }): Promise<Tensor[]>;
  async backward(acts: Activations, seeds: Tensor, opts: BackwardOptions): Promise<Tensor | Tensor[]> {
    this.checkUsable();
    this.#checkTensor(seeds, 'seed gradients');
    const g = this.graph;
    const e = opts.recorder ?? this.engine;
    const targets = typeof opts.to === 'string' ? [opts.to] : [...opts.to];
    if (targets.length === 0) throw new InvalidInputError('backward: no tensor in `to`');
    if (new Set(targets).size !== targets.length) {
      throw new InvalidInputError(`backward: \`to\` names a tensor twice (${targets.join(', ')})`);
    }
    for (const to of targets) {
      if (!g.has(to)) throw g.notFound(to);
      if (!acts.plannedTargets.has(to)) {
        throw new GraphError(`backward to '${to}' was not planned: pass it in forward()'s 'backwardTo'`);
      }
    }
    const n = acts.n;
    const from = opts.from ?? g.output;
    if (!g.has(from)) throw g.notFound(from);
    if (targets.includes(from)) throw new InvalidInputError(`backward: '${from}' is both \`from\` and in \`to\``);
    const outShape = g.shape(from, n);
    if (
      seeds.rank !== outShape.length ||
      seeds.shape[0] % n !== 0 ||
      seeds.shape.slice(1).join() !== outShape.slice(1).join()
    ) {
      throw new ShapeMismatchError(
        `seed gradients must be [T·${n}, ${outShape.slice(1).join(', ')}], got ${shapeStr(seeds.shape)}`,
      );
    }
    // The union of the targets' paths, in forward order: every node once.
    const union = new Set<GraphNode>(targets.flatMap((to) => g.backwardNodes(to, from)));
    const nodes = g.nodes.filter((x) => union.has(x));
    const onPath = new Set<string>([...targets, ...nodes.map((x) => x.output)]);
    const wanted = new Set(targets);
    const grads = new Map<string, Grad>([[from, { t: seeds.reshape(seeds.shape), shared: true }]]);
    // A target's gradient, taken when its producer runs (all its consumers have run by then).
    const results = new Map<string, Tensor>();
    try {
      for (let k = nodes.length - 1; k >= 0; k--) {
        const node = nodes[k];
        const dy = grads.get(node.output);
        if (!dy) continue;
        grads.delete(node.output);
        const saves = opDef(node.op).saves;
        const impl = GPU_OPS[node.op] as GpuOp<unknown>;
        const dins = await impl.backward(e, {
          params: node.params,
          dy: dy.t,
          weights: this.weights.get(node.name)!,
          weightShapes: this.weightShapes.get(node.name)!,
          saved: {
            inputs: node.inputs.map((i, j) => (saves.inputs?.includes(j) ? acts.get(i) : null)),
            output: saves.output ? acts.get(node.output) : null,
          },
          inputShapes: node.inputs.map((i) => g.shape(i, n)),
          needs: node.inputs.map((i) => onPath.has(i)),
          guided: opts.guided ?? false,
        });
        if (wanted.has(node.output)) results.set(node.output, dy.t);
        else dy.t.destroy();
        for (let j = 0; j < node.inputs.length; j++) {
          const d = dins[j];
          if (!d) continue;
          const name = node.inputs[j];
          if (!onPath.has(name)) {
            d.t.destroy();
            continue;
          }
          const prev = grads.get(name);
          if (!prev) {
            grads.set(name, d);
          } else if (prev.shared) {
            const sum = await binaryForward(e, 'add', prev.t, d.t);
            prev.t.destroy();
            d.t.destroy();
            grads.set(name, { t: sum, shared: false });
          } else {
            await accumulate(e, prev.t, d.t);
            d.t.destroy();
          }
        }
      }
    } catch (err) {
      for (const d of grads.values()) d.t.destroy();
      for (const t of results.values()) t.destroy();
      throw err;
    }
    for (const to of targets) {
      const d = grads.get(to);
      if (results.has(to) || !d) continue;
      results.set(to, d.t);
      grads.delete(to);
    }
    for (const d of grads.values()) d.t.destroy();
    const missing = targets.find((to) => !results.has(to));
    if (missing !== undefined) {
      for (const t of results.values()) t.destroy();
      throw new GraphError(`no gradient reached '${missing}'`);
    }
    const out = targets.map((to) => results.get(to)!);
    return typeof opts.to === 'string' ? out[0] : out;
  }
}
