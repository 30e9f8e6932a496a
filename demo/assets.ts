/**
 * The files the demo ships from weights/: models with their sidecar JSON, sample scenes with
 * their contents, and item sprites for the scene composer. Vite resolves the globs at build time
 * (dev server and `npm run build` alike): PNG and ONNX files become URLs (copied into the built
 * site's assets), JSON is bundled.
 */

export interface SampleItem {
  class: number;
  label: string;
  /** [x0, y0, x1, y1], half-open, in pixels of the sample image. */
  box: [number, number, number, number];
  visible?: number;
}

export interface Sample {
  file: string;
  name: string;
  description: string;
  classes: number[];
  items: SampleItem[];
  url: string;
}

export interface Sprite {
  file: string;
  class: number;
  label: string;
  url: string;
}

export interface ShippedModel {
  /** File name without .onnx. */
  id: string;
  url: string;
  /** The sidecar JSON (labels, mean, std, inputSize, …), if one sits next to the model. */
  sidecar: Record<string, unknown> | null;
}

const onnxUrls = import.meta.glob<string>('../weights/*.onnx', { query: '?url', import: 'default', eager: true });
const jsons = import.meta.glob<Record<string, unknown>>('../weights/*.json', { import: 'default', eager: true });
const sampleUrls = import.meta.glob<string>('../weights/samples/*.png', {
  query: '?url',
  import: 'default',
  eager: true,
});
const samplesJson = import.meta.glob<{
  width: number;
  height: number;
  labels: string[];
  samples: Omit<Sample, 'url'>[];
}>('../weights/samples/samples.json', { import: 'default', eager: true });
const spriteUrls = import.meta.glob<string>('../weights/sprites/*.png', {
  query: '?url',
  import: 'default',
  eager: true,
});
const spritesJson = import.meta.glob<{
  width: number;
  height: number;
  labels: string[];
  sprites: Omit<Sprite, 'url'>[];
}>('../weights/sprites/sprites.json', { import: 'default', eager: true });

function base(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Shipped models, sorted by name; the sidecar of X.onnx is X.json (or X.<anything>.json). */
export function shippedModels(): ShippedModel[] {
  return Object.entries(onnxUrls)
    .map(([path, url]) => {
      const id = base(path).replace(/\.onnx$/, '');
      const side = Object.entries(jsons).find(([p]) => {
        const b = base(p);
        return b === `${id}.json` || (b.startsWith(`${id}.`) && b.endsWith('.json'));
      });
      return { id, url, sidecar: side ? side[1] : null };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

export function samples(): Sample[] {
  const meta = Object.values(samplesJson)[0];
  if (!meta) return [];
  const urls = new Map(Object.entries(sampleUrls).map(([p, u]) => [base(p), u]));
  return meta.samples.filter((s) => urls.has(s.file)).map((s) => ({ ...s, url: urls.get(s.file)! }));
}

export function sprites(): { side: number; sprites: Sprite[] } {
  const meta = Object.values(spritesJson)[0];
  if (!meta) return { side: 56, sprites: [] };
  const urls = new Map(Object.entries(spriteUrls).map(([p, u]) => [base(p), u]));
  return {
    side: meta.width,
    sprites: meta.sprites.filter((s) => urls.has(s.file)).map((s) => ({ ...s, url: urls.get(s.file)! })),
  };
}

const cardUrls = import.meta.glob<string>('../weights/MODEL_CARD.md', {
  query: '?url',
  import: 'default',
  eager: true,
});

/** URL of weights/MODEL_CARD.md, if shipped. */
export function modelCardUrl(): string | null {
  return Object.values(cardUrls)[0] ?? null;
}
