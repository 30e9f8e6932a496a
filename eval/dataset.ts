/**
 * Reading a fashion-scenes split (format `fashion-scenes/1`, written by tools/fashion_scenes.py;
 * see tools/README.md): images.u8 [N, H, W, 3] RGB and annotations.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageInput } from '../src/core/image';

/** [x0, y0, x1, y1], half-open integer pixel box. */
export type Box = [number, number, number, number];

export interface SceneItem {
  class: number;
  label: string;
  box: Box;
  visibleBox: Box;
  visible: number;
}

export interface Scene {
  index: number;
  classes: number[];
  occlusion: boolean;
  items: SceneItem[];
}

export interface SplitMeta {
  format: string;
  generator: string;
  split: string;
  seed: number;
  count: number;
  height: number;
  width: number;
  labels: string[];
  files: { images: { name: string } };
  scenes: Scene[];
}

export class Split {
  readonly meta: SplitMeta;
  readonly #images: Buffer;

  constructor(readonly dir: string) {
    const file = join(dir, 'annotations.json');
    if (!existsSync(file)) throw new Error(`no fashion-scenes split at ${dir} (missing annotations.json)`);
    this.meta = JSON.parse(readFileSync(file, 'utf8')) as SplitMeta;
    if (this.meta.format !== 'fashion-scenes/1') {
      throw new Error(`${file}: format '${this.meta.format}', expected 'fashion-scenes/1'`);
    }
    this.#images = readFileSync(join(dir, this.meta.files.images.name));
    const want = this.meta.count * this.meta.height * this.meta.width * 3;
    if (this.#images.length !== want) {
      throw new Error(`${dir}: images file has ${this.#images.length} bytes, annotations say ${want}`);
    }
  }

  get count(): number {
    return this.meta.count;
  }

  /** Scene n as RGBA pixels (alpha 255), ready for preprocessImage. */
  image(n: number): ImageInput {
    const { height: H, width: W } = this.meta;
    const rgb = this.#images.subarray(n * H * W * 3, (n + 1) * H * W * 3);
    const data = new Uint8ClampedArray(H * W * 4);
    for (let p = 0; p < H * W; p++) {
      data[4 * p] = rgb[3 * p];
      data[4 * p + 1] = rgb[3 * p + 1];
      data[4 * p + 2] = rgb[3 * p + 2];
      data[4 * p + 3] = 255;
    }
    return { data, width: W, height: H };
  }
}
