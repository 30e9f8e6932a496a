/** Opening a model for the CLI: the ONNX file, its sidecar (given, or found next to it), the graph. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { Graph, isMultiLabel, ModelFormatError, onnxToGraphSpec, type OnnxImport, type OnnxSidecar } from '../node';

export interface OpenedModel {
  path: string;
  /** The sidecar's path: the --sidecar file, or X.json next to X.onnx when there is one. */
  sidecarPath: string | null;
  sidecar: unknown;
  bytes: Uint8Array;
  imported: OnnxImport;
  graph: Graph;
  /** Sigmoid per class (isMultiLabel of the sidecar) rather than the softmax. */
  multiLabel: boolean;
}

/** The sidecar next to a model: X.json for X.onnx, if it exists. */
export function sidecarNextTo(model: string): string | null {
  const p = join(dirname(model), `${basename(model, extname(model))}.json`);
  return existsSync(p) ? p : null;
}

/** Read and convert a model (no GPU). Throws the importer's typed errors (a sidecar that is not JSON: ModelFormatError), and Node's for unreadable files. */
export async function openModel(path: string, sidecarArg?: string): Promise<OpenedModel> {
  const bytes = new Uint8Array(await readFile(path));
  const sidecarPath = sidecarArg ?? sidecarNextTo(path);
  let sidecar: unknown = undefined;
  if (sidecarPath) {
    const text = await readFile(sidecarPath, 'utf8');
    try {
      sidecar = JSON.parse(text);
    } catch (e) {
      throw new ModelFormatError(`the sidecar '${sidecarPath}' is not JSON: ${(e as Error).message}`);
    }
  }
  const name = basename(path, extname(path));
  const imported = onnxToGraphSpec(bytes, { sidecar: sidecar as OnnxSidecar | string[] | undefined, name });
  return {
    path,
    sidecarPath,
    sidecar,
    bytes,
    imported,
    graph: new Graph(imported.spec),
    multiLabel: isMultiLabel(sidecar),
  };
}
