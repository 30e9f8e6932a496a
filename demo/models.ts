/**
 * Models as the demo uses them: an engine Model plus what the page needs around it (class
 * names, the input size and normalisation, the layers one can explain at, and whether CAM
 * applies at each).
 */
import { explainableLayers, type LayerInfo } from '../src/attribution/explain';
import type { Engine } from '../src/gpu/engine';
import { InvalidInputError, ModelFormatError } from '../src/core/errors';
import type { Model } from '../src/model/model';
import { isMultiLabel, loadOnnx, type OnnxSidecar } from '../src/model/onnx';
import type { ShippedModel } from './assets';

export type { LayerInfo };

export interface DemoModel {
  /** Shown in the model picker and captions. */
  name: string;
  model: Model;
  /** Where it was loaded from (to load it again on a new engine after a device loss). */
  source: ModelSource | null;
  labels: string[];
  mean: [number, number, number];
  std: [number, number, number];
  /** [H, W] of the model input. */
  size: [number, number];
  layers: LayerInfo[];
  defaultLayer: string;
  /**
   * Multi-label model (trained with a sigmoid per class, like the shipped ones): each class's
   * probability is sigmoid(score). Otherwise probabilities are the softmax over the classes.
   */
  multiLabel: boolean;
}

function triple(v: unknown, fallback: number): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
  if (typeof v === 'number') return [v, v, v];
  return [fallback, fallback, fallback];
}

/** Wrap a loaded Model with its labels and preprocessing. */
export function describeModel(
  name: string,
  model: Model,
  meta: { labels?: readonly string[] | null; mean?: unknown; std?: unknown; multiLabel?: boolean },
  source: ModelSource | null = null,
): DemoModel {
  const [, H, W] = model.inputShape;
  const numClasses = model.graph.shape(model.graph.scores)[1];
  const given = meta.labels ?? model.spec.labels ?? [];
  const labels = Array.from({ length: numClasses }, (_, i) => given[i] ?? `class ${i}`);
  return {
    name,
    model,
    source,
    labels,
    mean: triple(meta.mean, 0),
    std: triple(meta.std, 1),
    size: [H, W],
    layers: explainableLayers(model.graph),
    defaultLayer: model.graph.defaultLayer(),
    multiLabel: meta.multiLabel ?? false,
  };
}

/** Where a model comes from: a shipped file, or files the user opened. */
export type ModelSource =
  { kind: 'shipped'; entry: ShippedModel } | { kind: 'file'; name: string; bytes: Uint8Array; sidecar: unknown };

/** Read a user's labels / sidecar file: JSON (a list of names, or { labels, mean, std, inputSize }). */
export async function readSidecarFile(file: File): Promise<unknown> {
  const text = await file.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`the labels file '${file.name}' is not JSON: ${(e as Error).message}`);
  }
}

/** Import an ONNX model onto the GPU. Throws the importer's typed errors (UnsupportedOperatorError, …). */
export async function loadModel(e: Engine, src: ModelSource): Promise<DemoModel> {
  const name = src.kind === 'shipped' ? src.entry.id : src.name;
  const bytes = src.kind === 'shipped' ? src.entry.url : src.bytes;
  const sidecar = (src.kind === 'shipped' ? src.entry.sidecar : src.sidecar) ?? undefined;
  const loaded = await loadOnnx(e, bytes, { sidecar: sidecar as OnnxSidecar | undefined, name });
  try {
    const pre = loaded.preprocessing;
    if (loaded.model.inputShape[0] !== 3) {
      throw new InvalidInputError(
        `the model takes ${loaded.model.inputShape[0]}-channel input; this page feeds RGB images (3 channels)`,
      );
    }
    return describeModel(
      name,
      loaded.model,
      {
        labels: loaded.labels,
        mean: pre?.mean,
        std: pre?.std,
        multiLabel: isMultiLabel(sidecar),
      },
      src,
    );
  } catch (err) {
    loaded.model.destroy();
    throw err;
  }
}
