/**
 * ONNX import: an .onnx file (bytes, a URL, or in Node a file path) → a GraphSpec → a Model on
 * the GPU.
 *
 *   const { model, labels, preprocessing } = await loadOnnx(engine, '/models/net.onnx', {
 *     sidecar: '/models/net.json',                    // optional: { labels, mean, std, inputSize }
 *   });
 *
 * In the browser a string is a URL, fetched. In Node a string without a URL scheme is a file
 * path, and a file: URL (string or URL object) is a file too; both are read with node:fs, which
 * is imported only then, so the browser bundle does not contain it. Such a file is read piece by
 * piece, its large weights only as Model.load uploads them (loadFile), so that the host never
 * holds the file or all of its weights at once; it stays open until then, and a file that
 * changes or cannot be read before is an InvalidInputError, with nothing left on the GPU. http(s): and data: URLs are
 * fetched in both. The same holds for a sidecar given as a string or URL.
 *
 * onnxToGraphSpec() is the converter alone (no GPU): it decodes the protobuf, converts the graph
 * (see onnx_convert.ts for the operators and how each maps), and reads labels and normalisation.
 *
 * Labels and normalisation come from the model's metadata_props, or from a JSON sidecar, which
 * wins key by key. Metadata keys (values are JSON text):
 *   'labels'  ["cat", "dog", …]   one class name per output, in output order
 *   'mean'    [0.485, 0.456, 0.406]  per input channel
 *   'std'     [0.229, 0.224, 0.225]  per input channel
 *   'inputSize' [224, 224]          [H, W]: needed when the graph's input height and width are
 *                                   dynamic; must agree with them otherwise
 * mean and std apply to pixel values scaled to [0, 1]: x = (pixel / 255 − mean) / std. (Any other
 * affine convention can be written this way, e.g. Caffe's 0–255 means: mean/255 and std 1/255.)
 * The sidecar is { labels?, mean?, std?, inputSize?: [H, W] } (other keys are ignored), or just an
 * array of labels.
 */
import type { Engine } from '../gpu/engine';
import { InvalidInputError, ModelFormatError } from '../core/errors';
import { Graph } from './graph';
import { Model } from './model';
import { convertGraph } from './onnx_convert';
import { decodeModel, defaultOpset, type OnnxModel } from './onnx_proto';
import { decodeModelFile, DEFERRED_TENSOR_BYTES, LARGE_TENSOR_BYTES, type RandomAccessFile } from './onnx_stream';
import { DeferredValuesError } from '../defs/deferred';
import type { GraphSpec } from './spec';

export { ONNX_OPS } from './onnx_convert';

/** How to turn an image into the model's input. */
export interface Preprocessing {
  /** [H, W] the model takes. */
  inputSize: [number, number];
  /** Per input channel, for pixel values in [0, 1]: x = (pixel − mean) / std. */
  mean: number[];
  std: number[];
}

/** The JSON sidecar: every key optional. */
export interface OnnxSidecar {
  labels?: string[];
  mean?: number[];
  std?: number[];
  /** [H, W], for a model whose input height and width are dynamic. */
  inputSize?: [number, number];
}

export interface OnnxImport {
  /** The converted graph (spec.labels set when labels are known). */
  spec: GraphSpec;
  /** Class names, one per output, or null when neither metadata nor sidecar gives them. */
  labels: string[] | null;
  /** Null when neither metadata nor sidecar gives mean and std. */
  preprocessing: Preprocessing | null;
  /** The default operator set version the model imports. */
  opset: number;
  /** The tool that wrote the file (producer_name), or ''. */
  producer: string;
}

/**
 * What loadOnnx gives. For a file loadOnnx read itself (a path or file: URL in Node), the
 * weights live on the GPU only: the large ones are read from the file as they are uploaded
 * (deferred weights, src/defs/deferred.ts), and `spec`'s node `weights` are released once
 * uploaded (use onnxToGraphSpec for a spec with its weights).
 */
export interface LoadedModel extends OnnxImport {
  model: Model;
}

/** Where a file comes from: its bytes, a URL, or (in Node) a file path or file: URL. */
export type FileSource = ArrayBuffer | Uint8Array | string | URL;

export interface OnnxOptions {
  /**
   * Labels / normalisation / input size: an object, an array of labels, or the JSON file's URL
   * (in Node also its path).
   */
  sidecar?: OnnxSidecar | string[] | string | URL;
  /** Name for the graph (default: the ONNX graph's name). */
  name?: string;
  /** How the weights are stored on the GPU: Model.load's `weightStorage` (default 'f32'). */
  weightStorage?: 'f32' | 'f16';
}

/** Convert ONNX bytes to a GraphSpec with labels and preprocessing. No GPU work. */
export function onnxToGraphSpec(
  bytes: ArrayBuffer | Uint8Array,
  opts: { sidecar?: OnnxSidecar | string[]; name?: string } = {},
): OnnxImport {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return importModel(decodeModel(u8), opts);
}

/** A decoded ModelProto → a GraphSpec with labels and preprocessing. */
function importModel(model: OnnxModel, opts: { sidecar?: OnnxSidecar | string[]; name?: string }): OnnxImport {
  const sidecar = opts.sidecar === undefined ? {} : parseSidecar(opts.sidecar, 'the sidecar');
  const meta = metadata(model);
  const opset = defaultOpset(model);
  const spec = convertGraph(model.graph!, { opset, inputSize: sidecar.inputSize ?? meta.inputSize ?? null });
  if (opts.name) spec.name = opts.name;

  // Validate the whole graph now (shapes, wiring).
  const graph = new Graph(spec);
  const [c, h, w] = spec.input.shape;

  const labels = sidecar.labels ?? meta.labels ?? null;
  if (labels) {
    const out = graph.shape(graph.output);
    if (out.length !== 2 || out[1] !== labels.length) {
      throw new ModelFormatError(
        `${labels.length} labels given, but the model's output '${graph.output}' is [${['N', ...out.slice(1)].join(', ')}]`,
      );
    }
    spec.labels = labels;
  }
  const mean = sidecar.mean ?? meta.mean;
  const std = sidecar.std ?? meta.std;
  let preprocessing: Preprocessing | null = null;
  if (mean || std) {
    if (!mean || !std)
      throw new ModelFormatError(`'${mean ? 'mean' : 'std'}' is given without '${mean ? 'std' : 'mean'}'`);
    if (mean.length !== c || std.length !== c) {
      throw new ModelFormatError(
        `mean and std need ${c} values (one per input channel), got ${mean.length} and ${std.length}`,
      );
    }
    preprocessing = { inputSize: [h, w], mean, std };
  }
  return { spec, labels, preprocessing, opset, producer: model.producer_name ?? '' };
}

/**
 * Load an ONNX classifier onto the GPU. `source` is the file's bytes, a URL to fetch, or in Node
 * a file path or file: URL (read with node:fs).
 */
export async function loadOnnx(engine: Engine, source: FileSource, opts: OnnxOptions = {}): Promise<LoadedModel> {
  const s = opts.sidecar;
  const sidecar = typeof s === 'string' || s instanceof URL ? await sidecarFrom(s) : s;
  const o = { sidecar, name: opts.name, weightStorage: opts.weightStorage };
  if (isLocalFile(source)) {
    // A file the importer reads itself: piece by piece, the large weights read only as they are
    // uploaded, through the same scratch buffers (loadFile), so that a large model never needs
    // the file or its weights in host memory at once.
    return loadFile(engine, source, o);
  }
  const bytes = typeof source === 'string' || source instanceof URL ? await readSource(source, 'model') : source;
  const imp = onnxToGraphSpec(bytes, o);
  const model = await Model.load(engine, imp.spec, { weightStorage: opts.weightStorage });
  return { ...imp, model };
}

/** A string that starts with a URL scheme ('https:', 'data:', 'file:'; not a drive letter 'C:'). */
const URL_SCHEME = /^[a-z][a-z0-9+.-]+:/i;

function inNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** In Node, a path or a file: URL (string or URL object). */
function isLocalFile(source: FileSource): source is string | URL {
  if (!(typeof source === 'string' || source instanceof URL) || !inNode()) return false;
  const isUrl = source instanceof URL || URL_SCHEME.test(source);
  const isFile = source instanceof URL ? source.protocol === 'file:' : /^file:/i.test(source);
  return !isUrl || isFile;
}

/** The bytes of a file named by URL or, in Node, by path or file: URL. */
async function readSource(source: string | URL, what: string): Promise<Uint8Array> {
  if (isLocalFile(source)) return readFile(source, what);
  return new Uint8Array(await (await get(String(source), what)).arrayBuffer());
}

/** node:fs, imported only where a file is read (Node), and hidden from the bundler. */
async function nodeFs(): Promise<typeof import('node:fs/promises')> {
  const fsModule = 'node:fs/promises';
  return (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
}

const localPath = (source: string | URL) =>
  typeof source === 'string' && /^file:/i.test(source) ? new URL(source) : source;

const readError = (source: string | URL, what: string, e: unknown) =>
  new InvalidInputError(`could not read the ${what} '${String(source)}': ${(e as Error).message}`);

async function readFile(source: string | URL, what: string): Promise<Uint8Array> {
  const fs = await nodeFs();
  try {
    return await fs.readFile(localPath(source));
  } catch (e) {
    throw readError(source, what, e);
  }
}

/** A file opened in Node for reads at offsets; close it when done. */
export type OpenFile = RandomAccessFile & { close(): Promise<void> };

/**
 * Open a file in Node (a path or file: URL) for reads at offsets, as loadOnnx does. A read that
 * fails is an InvalidInputError naming the file; so is one after the file's size or modification
 * time changed ("changed while being read"): deferred tensors are read long after the decoding.
 */
export async function openFile(source: string | URL, what: string): Promise<OpenFile> {
  const fs = await nodeFs();
  let handle: Awaited<ReturnType<typeof fs.open>>;
  let stat: Awaited<ReturnType<typeof handle.stat>>;
  try {
    handle = await fs.open(localPath(source), 'r');
  } catch (e) {
    throw readError(source, what, e);
  }
  try {
    stat = await handle.stat();
  } catch (e) {
    await handle.close();
    throw readError(source, what, e);
  }
  const changed = () => new InvalidInputError(`the ${what} '${String(source)}' changed while being read`);
  const readInto = async (offset: number, into: Uint8Array) => {
    try {
      // Deferred tensors are read after the decoding: the file must be the one decoded.
      const now = await handle.stat();
      if (now.size !== stat.size || now.mtimeMs !== stat.mtimeMs) throw changed();
      for (let done = 0; done < into.length;) {
        const { bytesRead } = await handle.read(into, done, into.length - done, offset + done);
        if (bytesRead === 0) throw changed();
        done += bytesRead;
      }
    } catch (e) {
      throw e instanceof InvalidInputError ? e : readError(source, what, e);
    }
  };
  return {
    size: stat.size,
    readInto,
    async read(offset, length) {
      const buf = new Uint8Array(length);
      await readInto(offset, buf);
      return buf;
    },
    close: () => handle.close(),
  };
}

/**
 * A model file in Node: decoded piece by piece (onnx_stream.ts), its large FLOAT initializers
 * deferred (read when Model.load uploads them, through one set of scratch buffers:
 * src/defs/deferred.ts), then loaded with the host copies released. A rule that needs a deferred
 * tensor's values at conversion (DeferredValuesError) has the file converted again with every
 * tensor read. The file stays open until the weights are uploaded.
 */
async function loadFile(
  engine: Engine,
  source: string | URL,
  o: { sidecar?: OnnxSidecar | string[]; name?: string; weightStorage?: 'f32' | 'f16' },
): Promise<LoadedModel> {
  const file = await openFile(source, 'model');
  try {
    let imp: OnnxImport;
    try {
      imp = importModel(await decodeModelFile(file, LARGE_TENSOR_BYTES, DEFERRED_TENSOR_BYTES), o);
    } catch (e) {
      if (!(e instanceof DeferredValuesError)) throw e;
      imp = importModel(await decodeModelFile(file), o);
    }
    const model = await Model.load(engine, imp.spec, { releaseHostWeights: true, weightStorage: o.weightStorage });
    return { ...imp, model };
  } finally {
    await file.close();
  }
}

async function get(url: string, what: string): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new InvalidInputError(`could not fetch the ${what} '${url}': ${(e as Error).message}`);
  }
  if (!r.ok) throw new InvalidInputError(`could not fetch the ${what} '${url}': HTTP ${r.status} ${r.statusText}`);
  return r;
}

async function sidecarFrom(source: string | URL): Promise<OnnxSidecar | string[]> {
  const text = new TextDecoder().decode(await readSource(source, 'sidecar'));
  try {
    return JSON.parse(text) as OnnxSidecar | string[];
  } catch (e) {
    throw new ModelFormatError(`the sidecar '${String(source)}' is not JSON: ${(e as Error).message}`);
  }
}

// ---- sidecar and metadata --------------------------------------------------------------------

function isNumbers(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

function checkLabels(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) {
    throw new ModelFormatError(`${where}: 'labels' must be a non-empty array of strings`);
  }
  return v;
}

function checkStats(key: 'mean' | 'std', v: unknown, where: string): number[] {
  if (!isNumbers(v) || (key === 'std' && v.some((x) => x <= 0))) {
    throw new ModelFormatError(`${where}: '${key}' must be an array of numbers${key === 'std' ? ' > 0' : ''}`);
  }
  return v;
}

/**
 * Whether a sidecar marks a multi-label model (one sigmoid per class, like the shipped models):
 * its `outputKind` says "multi-label" or "sigmoid" (e.g. "multi-label logits: sigmoid(logit) is
 * each class's probability"). The demo, the CLI and the element then show sigmoid(score) per
 * class instead of the softmax over the classes.
 */
export function isMultiLabel(sidecar: unknown): boolean {
  const kind = (sidecar as { outputKind?: unknown } | null)?.outputKind;
  return typeof kind === 'string' && /multi-?label|sigmoid/i.test(kind);
}

/** Check a sidecar's keys and types. */
export function parseSidecar(v: unknown, where = 'the sidecar'): OnnxSidecar {
  if (Array.isArray(v)) return { labels: checkLabels(v, where) };
  if (typeof v !== 'object' || v === null)
    throw new ModelFormatError(`${where} must be a JSON object or an array of labels`);
  const o = v as Record<string, unknown>;
  const out: OnnxSidecar = {};
  if (o.labels !== undefined) out.labels = checkLabels(o.labels, where);
  if (o.mean !== undefined) out.mean = checkStats('mean', o.mean, where);
  if (o.std !== undefined) out.std = checkStats('std', o.std, where);
  if (o.inputSize !== undefined) {
    const s = o.inputSize;
    if (!isNumbers(s) || s.length !== 2 || !s.every((d) => Number.isInteger(d) && d > 0)) {
      throw new ModelFormatError(`${where}: 'inputSize' must be [H, W], two positive integers`);
    }
    out.inputSize = [s[0], s[1]];
  }
  return out;
}

/** labels / mean / std / inputSize from metadata_props (JSON values). */
function metadata(model: OnnxModel): OnnxSidecar {
  const props = new Map(model.metadata_props.map((p) => [p.key ?? '', p.value ?? '']));
  const json = (key: string): unknown => {
    const text = props.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new ModelFormatError(`metadata '${key}' is not JSON: ${text.slice(0, 80)}`);
    }
  };
  const fields: Record<string, unknown> = {};
  for (const key of ['labels', 'mean', 'std', 'inputSize']) fields[key] = json(key);
  return parseSidecar(fields, 'the model metadata');
}
