/**
 * The scene composer: Fashion-MNIST item sprites (grey shading + alpha, weights/sprites/) tinted
 * and alpha-composited over a textured background, as the training scenes were made
 * (tools/fashion_scenes.py). Scene coordinates are in units of a 96-unit square; the canvas holds
 * it at SCALE pixels per unit. Items are dragged with the pointer (or moved with the keyboard);
 * every change calls `onChange`.
 */
import type { Sprite } from './assets';
import { hsv, renderBackground, rng, type Background, type RGB } from './background';
import type { RGBAImage } from './images';

export const UNITS = 96;
const SCALE = 4;
export const SIDE_MIN = 16;
export const SIDE_MAX = 64;

export interface Item {
  id: number;
  sprite: number;
  /** Centre, in scene units. */
  x: number;
  y: number;
  /** Side of the sprite's square, in scene units (the training scenes used 20–56). */
  side: number;
  /** RGB tint in [0, 1]. */
  tint: [number, number, number];
}

export function rgbToHex(c: RGB): string {
  return (
    '#' +
    c
      .map((v) =>
        Math.round(v * 255)
          .toString(16)
          .padStart(2, '0'),
      )
      .join('')
  );
}

export function hexToRgb(hex: string): RGB {
  const n = parseInt(hex.slice(1), 16);
  return [((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
}

interface LoadedSprite extends Sprite {
  image: HTMLImageElement;
  /** Grey shading and alpha, sprite pixels. */
  pixels: ImageData;
  /** Tight box of alpha >= 128 in sprite pixels [x0, y0, x1, y1). */
  box: [number, number, number, number];
}

async function loadSprite(s: Sprite): Promise<LoadedSprite> {
  const image = new Image();
  image.decoding = 'async';
  image.src = s.url;
  await image.decode();
  const c = document.createElement('canvas');
  c.width = image.naturalWidth;
  c.height = image.naturalHeight;
  const g = c.getContext('2d', { willReadFrequently: true })!;
  g.drawImage(image, 0, 0);
  const pixels = g.getImageData(0, 0, c.width, c.height);
  let x0 = c.width;
  let y0 = c.height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      if (pixels.data[(y * c.width + x) * 4 + 3] >= 128) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + 1);
        y1 = Math.max(y1, y + 1);
      }
    }
  }
  if (x1 <= x0) [x0, y0, x1, y1] = [0, 0, c.width, c.height];
  return { ...s, image, pixels, box: [x0, y0, x1, y1] };
}

export class Composer {
  readonly canvas: HTMLCanvasElement;
  readonly #g: CanvasRenderingContext2D;
  #sprites: LoadedSprite[] = [];
  items: Item[] = [];
  selected: number | null = null;
  background: Background = { kind: 'gradient', seed: 7 };
  #bgCanvas: HTMLCanvasElement | null = null;
  #tinted = new Map<string, HTMLCanvasElement>();
  #nextId = 1;
  #variant = new Map<number, number>();
  #drag: { id: number; dx: number; dy: number; pointer: number } | null = null;
  #random = rng(12345);
  /** Called after every change of the scene (not of the selection alone). */
  onChange: () => void = () => {};
  /** Called when the selection changes. */
  onSelect: () => void = () => {};

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    canvas.width = UNITS * SCALE;
    canvas.height = UNITS * SCALE;
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (!g) throw new Error("canvas.getContext('2d') returned null");
    this.#g = g;
    this.#listen();
  }

  async load(sprites: Sprite[]): Promise<void> {
    this.#sprites = await Promise.all(sprites.map(loadSprite));
  }

  get sprites(): readonly Sprite[] {
    return this.#sprites;
  }

  /** Sprites grouped by class, in class order. */
  classes(): { class: number; label: string; sprites: number[] }[] {
    const by = new Map<number, { class: number; label: string; sprites: number[] }>();
    this.#sprites.forEach((s, i) => {
      if (!by.has(s.class)) by.set(s.class, { class: s.class, label: s.label, sprites: [] });
      by.get(s.class)!.sprites.push(i);
    });
    return [...by.values()].sort((a, b) => a.class - b.class);
  }

  // ------------------------------------------------------------------ editing

  /** Add an item of class `cls` (the next of its sprites each time), or of sprite index `sprite`. */
  add(opts: { cls?: number; sprite?: number; x?: number; y?: number; side?: number; tint?: RGB } = {}): Item {
    let sprite = opts.sprite;
    if (sprite === undefined) {
      const group = this.classes().find((c) => c.class === opts.cls);
      if (!group) throw new Error(`no sprite of class ${opts.cls}`);
      const v = this.#variant.get(group.class) ?? 0;
      this.#variant.set(group.class, v + 1);
      sprite = group.sprites[v % group.sprites.length];
    }
    if (!this.#sprites[sprite]) throw new Error(`no sprite ${sprite}`);
    const side = opts.side ?? 44;
    const item: Item = {
      id: this.#nextId++,
      sprite,
      x: opts.x ?? 24 + this.#random() * 48,
      y: opts.y ?? 24 + this.#random() * 48,
      side,
      tint: opts.tint ?? this.#tintFor(),
    };
    this.items.push(item);
    this.selected = item.id;
    this.#changed(true);
    return item;
  }

  move(id: number, x: number, y: number): void {
    const it = this.#item(id);
    it.x = Math.min(UNITS, Math.max(0, x));
    it.y = Math.min(UNITS, Math.max(0, y));
    this.#changed(false);
  }

  resize(id: number, side: number): void {
    this.#item(id).side = Math.min(SIDE_MAX, Math.max(SIDE_MIN, side));
    this.#changed(false);
  }

  setTint(id: number, tint: RGB): void {
    this.#item(id).tint = tint;
    this.#changed(false);
  }

  remove(id: number): void {
    this.items = this.items.filter((i) => i.id !== id);
    if (this.selected === id) this.selected = this.items.at(-1)?.id ?? null;
    this.#changed(true);
  }

  clear(): void {
    this.items = [];
    this.selected = null;
    this.#changed(true);
  }

  setBackground(bg: Partial<Background>): void {
    this.background = { ...this.background, ...bg };
    this.#bgCanvas = null;
    this.#changed(false);
  }

  select(id: number | null): void {
    this.selected = id;
    this.draw();
    this.onSelect();
  }

  selectNext(step = 1): void {
    if (!this.items.length) return;
    const i = this.items.findIndex((it) => it.id === this.selected);
    const n = this.items.length;
    this.select(this.items[((((i < 0 ? -1 : i) + step) % n) + n) % n].id);
  }

  get selectedItem(): Item | null {
    return this.items.find((i) => i.id === this.selected) ?? null;
  }

  labelOf(item: Item): string {
    return this.#sprites[item.sprite].label;
  }

  /** Tight box of an item's mask (alpha >= 128), in scene units [x0, y0, x1, y1]. */
  boxOf(item: Item): [number, number, number, number] {
    const s = this.#sprites[item.sprite];
    const k = item.side / s.pixels.width;
    const left = item.x - item.side / 2;
    const top = item.y - item.side / 2;
    return [left + s.box[0] * k, top + s.box[1] * k, left + s.box[2] * k, top + s.box[3] * k];
  }

  /** The scene's pixels (what the model is given). */
  pixels(): RGBAImage {
    const d = this.#g.getImageData(0, 0, this.canvas.width, this.canvas.height);
    return { data: d.data, width: d.width, height: d.height };
  }

  /** Items with class and box in the pixel coordinates of pixels(). */
  itemBoxes(): { class: number; label: string; box: [number, number, number, number] }[] {
    return this.items.map((it) => ({
      class: this.#sprites[it.sprite].class,
      label: this.labelOf(it),
      box: this.boxOf(it).map((v) => v * SCALE) as [number, number, number, number],
    }));
  }

  // ------------------------------------------------------------------ drawing

  draw(): void {
    const g = this.#g;
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = 'high';
    g.drawImage(this.#backgroundCanvas(), 0, 0);
    for (const it of this.items) {
      const s = it.side * SCALE;
      g.drawImage(this.#tintedSprite(it), (it.x - it.side / 2) * SCALE, (it.y - it.side / 2) * SCALE, s, s);
    }
  }

  #changed(structural: boolean): void {
    this.draw();
    if (structural) this.onSelect();
    this.onChange();
  }

  #item(id: number): Item {
    const it = this.items.find((i) => i.id === id);
    if (!it) throw new Error(`no item ${id} in the scene`);
    return it;
  }

  /** A tint that stands out from the background (RGB distance ≥ 0.3, as in training). */
  #tintFor(): RGB {
    const bg = this.#backgroundMean();
    let best: RGB = [1, 1, 1];
    let bestD = -1;
    for (let k = 0; k < 20; k++) {
      const t = hsv(this.#random(), 0.25 + 0.75 * this.#random(), 0.5 + 0.5 * this.#random());
      const d = Math.hypot(t[0] * 0.7 - bg[0], t[1] * 0.7 - bg[1], t[2] * 0.7 - bg[2]);
      if (d > bestD) [best, bestD] = [t, d];
      if (d >= 0.3) break;
    }
    return best;
  }

  #backgroundMean(): RGB {
    const c = this.#backgroundCanvas();
    const d = c.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, c.width, c.height).data;
    const m: RGB = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) for (let j = 0; j < 3; j++) m[j] += d[i + j];
    return m.map((v) => v / (255 * (d.length / 4))) as RGB;
  }

  #tintedSprite(it: Item): HTMLCanvasElement {
    const key = `${it.sprite}|${it.tint.join(',')}`;
    let c = this.#tinted.get(key);
    if (!c) {
      const src = this.#sprites[it.sprite].pixels;
      const d = new ImageData(src.width, src.height);
      for (let i = 0; i < src.data.length; i += 4) {
        for (let j = 0; j < 3; j++) d.data[i + j] = src.data[i + j] * it.tint[j];
        d.data[i + 3] = src.data[i + 3];
      }
      c = document.createElement('canvas');
      c.width = src.width;
      c.height = src.height;
      c.getContext('2d')!.putImageData(d, 0, 0);
      if (this.#tinted.size > 256) this.#tinted.clear();
      this.#tinted.set(key, c);
    }
    return c;
  }

  #backgroundCanvas(): HTMLCanvasElement {
    this.#bgCanvas ??= renderBackground(this.background, UNITS, SCALE);
    return this.#bgCanvas;
  }

  // ------------------------------------------------------------------ input

  /** Scene units of a pointer event. */
  #units(ev: PointerEvent | WheelEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [((ev.clientX - r.left) / r.width) * UNITS, ((ev.clientY - r.top) / r.height) * UNITS];
  }

  /** The topmost item whose sprite is opaque at (x, y), else whose square contains it. */
  hit(x: number, y: number): Item | null {
    let square: Item | null = null;
    for (let n = this.items.length - 1; n >= 0; n--) {
      const it = this.items[n];
      const s = this.#sprites[it.sprite].pixels;
      const u = Math.floor(((x - it.x) / it.side + 0.5) * s.width);
      const v = Math.floor(((y - it.y) / it.side + 0.5) * s.height);
      if (u < 0 || v < 0 || u >= s.width || v >= s.height) continue;
      if (s.data[(v * s.width + u) * 4 + 3] >= 64) return it;
      square ??= it;
    }
    return square;
  }

  #listen(): void {
    const c = this.canvas;
    c.addEventListener('pointerdown', (ev) => {
      const [x, y] = this.#units(ev);
      const it = this.hit(x, y);
      this.select(it?.id ?? null);
      if (!it) return;
      ev.preventDefault();
      c.focus();
      c.setPointerCapture(ev.pointerId);
      c.classList.add('dragging');
      this.#drag = { id: it.id, dx: it.x - x, dy: it.y - y, pointer: ev.pointerId };
    });
    c.addEventListener('pointermove', (ev) => {
      if (!this.#drag || ev.pointerId !== this.#drag.pointer) return;
      const [x, y] = this.#units(ev);
      this.move(this.#drag.id, x + this.#drag.dx, y + this.#drag.dy);
    });
    const end = (ev: PointerEvent) => {
      if (!this.#drag || ev.pointerId !== this.#drag.pointer) return;
      this.#drag = null;
      c.classList.remove('dragging');
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener(
      'wheel',
      (ev) => {
        const it = this.selectedItem;
        if (!it) return;
        ev.preventDefault();
        this.resize(it.id, it.side * (ev.deltaY < 0 ? 1.08 : 1 / 1.08));
      },
      { passive: false },
    );
    c.addEventListener('keydown', (ev) => {
      const it = this.selectedItem;
      const step = ev.shiftKey ? 8 : 2;
      const moves: Record<string, [number, number]> = {
        ArrowLeft: [-step, 0],
        ArrowRight: [step, 0],
        ArrowUp: [0, -step],
        ArrowDown: [0, step],
      };
      if (ev.key === 'n' || ev.key === 'N') {
        this.selectNext(ev.key === 'N' ? -1 : 1);
      } else if (!it) {
        return;
      } else if (moves[ev.key]) {
        this.move(it.id, it.x + moves[ev.key][0], it.y + moves[ev.key][1]);
      } else if (ev.key === '+' || ev.key === '=') {
        this.resize(it.id, it.side + 2);
      } else if (ev.key === '-' || ev.key === '_') {
        this.resize(it.id, it.side - 2);
      } else if (ev.key === 'Delete' || ev.key === 'Backspace') {
        this.remove(it.id);
      } else if (ev.key === 'Escape') {
        this.select(null);
      } else {
        return;
      }
      ev.preventDefault();
    });
  }
}
