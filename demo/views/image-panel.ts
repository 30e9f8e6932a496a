/**
 * The image panel: the samples gallery, your own image (file button, drop anywhere, paste), the
 * scene composer's controls, and "what the model sees" (the image with the region the model
 * takes, next to the model's input drawn from the GPU by the maps view).
 */
import { fitRegion } from '../../src/core/image';
import type { App, RunResult } from '../app';
import { samples, sprites, type Sample } from '../assets';
import type { BackgroundKind } from '../background';
import { Composer, hexToRgb, rgbToHex, UNITS } from '../composer';
import { decodeBlob, decodeUrl, putPixels, type ImageSource } from '../images';
import { byId, el, errorText } from './dom';
import type { ModelPanel } from './model-panel';

const TABS = ['samples', 'compose', 'file'] as const;
export type ImageTab = (typeof TABS)[number];

export class ImagePanel {
  readonly samples: Sample[] = samples();
  readonly composer = new Composer(byId<HTMLCanvasElement>('scene'));
  readonly #scene: ImageSource;

  constructor(
    readonly app: App,
    readonly models: ModelPanel,
    readonly error: (message: string) => void,
  ) {
    const composer = this.composer;
    this.#scene = {
      name: 'your scene',
      kind: 'scene',
      pixels: () => composer.pixels(),
      items: () => composer.itemBoxes(),
    };
    this.#gallery();
    this.#ownImage();
    this.#tabs();
  }

  /** Load the sprites and set up the composer's controls. */
  async init(): Promise<void> {
    try {
      await this.composer.load(sprites().sprites);
    } catch (err) {
      this.error(`The scene composer's sprites could not be loaded: ${errorText(err)}`);
    }
    this.#composer();
  }

  showTab(which: ImageTab): void {
    for (const t of TABS) {
      const tab = byId(`tab-${t}`);
      tab.setAttribute('aria-selected', String(t === which));
      tab.tabIndex = t === which ? 0 : -1;
      byId(`pane-${t}`).hidden = t !== which;
    }
  }

  /** Show the composer and make its scene the page's image (the lecture tour's steps). */
  showScene(): void {
    this.showTab('compose');
    if (this.app.source !== this.#scene) this.app.setSource(this.#scene);
    else this.app.request(3);
  }

  async chooseSample(s: Sample): Promise<void> {
    for (const b of byId('gallery').querySelectorAll('button')) {
      b.setAttribute('aria-pressed', String(b.dataset.file === s.file));
    }
    const pixels = await decodeUrl(s.url, s.file);
    this.app.setSource({ name: s.name.replace(/_/g, ' '), kind: 'sample', pixels: () => pixels, items: () => s.items });
  }

  async openImage(file: Blob, name: string): Promise<void> {
    try {
      const pixels = await decodeBlob(file, name);
      this.showTab('file');
      this.app.setSource({ name, kind: 'file', pixels: () => pixels });
    } catch (err) {
      this.error(errorText(err));
    }
  }

  /** The image with the region the model takes (the rest shaded) and the items' boxes. */
  showOriginal(r: RunResult): void {
    const img = r.image;
    const g = putPixels(byId<HTMLCanvasElement>('original'), img);
    const [H, W] = r.model.size;
    const reg = fitRegion(img.width, img.height, H, W, r.fit);
    const line = Math.max(1, Math.round(Math.max(img.width, img.height) / 150));
    g.fillStyle = 'rgba(0, 0, 0, 0.5)';
    g.fillRect(0, 0, img.width, reg.y0);
    g.fillRect(0, reg.y0 + reg.h, img.width, img.height - reg.y0 - reg.h);
    g.fillRect(0, reg.y0, reg.x0, reg.h);
    g.fillRect(reg.x0 + reg.w, reg.y0, img.width - reg.x0 - reg.w, reg.h);
    const items = r.source.items?.() ?? [];
    g.lineWidth = line;
    g.setLineDash([3 * line, 2 * line]);
    g.strokeStyle = '#ffe600';
    for (const it of items) {
      const [x0, y0, x1, y1] = it.box;
      g.strokeRect(x0 + line / 2, y0 + line / 2, x1 - x0 - line, y1 - y0 - line);
    }
    const scaled = img.scaledFrom ? ` (scaled down from ${img.scaledFrom[0]}×${img.scaledFrom[1]})` : '';
    const boxes = items.length ? ` (boxes: ${items.map((i) => i.label).join(', ')})` : '';
    byId('original-caption').textContent = `${r.source.name}: ${img.width}×${img.height} px${scaled}${boxes}`;
    const part = reg.w !== img.width || reg.h !== img.height ? ` of ${Math.round(reg.w)}×${Math.round(reg.h)}` : '';
    byId('input-caption').textContent =
      `What the model sees: ${W}×${H}, ${r.fit === 'stretch' ? 'stretched' : 'centre crop'}${part}`;
  }

  #gallery(): void {
    const gallery = byId('gallery');
    gallery.replaceChildren(
      ...this.samples.map((s) => {
        const b = el('button', { type: 'button', 'data-file': s.file, 'aria-pressed': 'false', title: s.description }, [
          el('img', { src: s.url, alt: '' }),
          el('span', {}, s.items.map((i) => i.label).join(', ')),
        ]);
        b.addEventListener('click', () => this.chooseSample(s).catch((err) => this.error(errorText(err))));
        return el('li', {}, b);
      }),
    );
    if (!this.samples.length) byId('samples-note').textContent = 'No sample scenes are shipped with this build.';
  }

  /** File button, drop anywhere (an .onnx file opens as a model), paste. */
  #ownImage(): void {
    const input = byId<HTMLInputElement>('image-file');
    input.addEventListener('change', () => {
      const f = input.files?.[0];
      if (f) void this.openImage(f, f.name);
    });
    const hint = byId('drop-hint');
    let depth = 0;
    document.addEventListener('dragenter', (ev) => {
      if (!ev.dataTransfer?.types.includes('Files')) return;
      depth++;
      hint.hidden = false;
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) hint.hidden = true;
    });
    document.addEventListener('dragover', (ev) => {
      if (ev.dataTransfer?.types.includes('Files')) ev.preventDefault();
    });
    document.addEventListener('drop', (ev) => {
      depth = 0;
      hint.hidden = true;
      const files = [...(ev.dataTransfer?.files ?? [])];
      if (!files.length) return;
      ev.preventDefault();
      const onnx = files.find((f) => f.name.toLowerCase().endsWith('.onnx'));
      if (onnx) {
        void this.models.openFiles(onnx, files.find((f) => f.name.toLowerCase().endsWith('.json')) ?? null);
        return;
      }
      const image = files.find((f) => f.type.startsWith('image/')) ?? files[0];
      void this.openImage(image, image.name);
    });
    document.addEventListener('paste', (ev) => {
      const file = [...(ev.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'))?.getAsFile();
      if (!file) return;
      ev.preventDefault();
      void this.openImage(file, 'pasted image');
    });
  }

  #tabs(): void {
    TABS.forEach((t, i) => {
      const tab = byId(`tab-${t}`);
      tab.addEventListener('click', () => {
        this.showTab(t);
        if (t !== 'compose') return;
        const c = this.composer;
        if (!c.items.length && c.sprites.length) c.add({ cls: c.classes()[0].class, x: 34, y: 48 });
        else this.app.setSource(this.#scene);
      });
      tab.addEventListener('keydown', (ev) => {
        const step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        ev.preventDefault();
        const next = byId(`tab-${TABS[(i + step + TABS.length) % TABS.length]}`);
        next.focus();
        next.click();
      });
    });
  }

  #composer(): void {
    const { app, composer } = this;
    byId('palette').replaceChildren(
      ...composer.classes().map((c) => {
        const s = composer.sprites[c.sprites[0]];
        const b = el('button', { type: 'button', 'data-class': String(c.class), title: `Add a ${c.label}` }, [
          el('img', { src: s.url, alt: '' }),
          el('span', {}, c.label),
        ]);
        b.addEventListener('click', () => composer.add({ cls: c.class }));
        return el('li', {}, b);
      }),
    );
    const tools = byId('item-tools');
    const size = byId<HTMLInputElement>('item-size');
    const tint = byId<HTMLInputElement>('item-tint');
    const selection = byId('scene-selection');
    const sync = () => {
      const it = composer.selectedItem;
      tools.hidden = !it;
      selection.hidden = !it;
      if (!it) return;
      size.value = String(Math.round(it.side));
      tint.value = rgbToHex(it.tint);
      const [x0, y0, x1, y1] = composer.boxOf(it);
      Object.assign(selection.style, {
        left: `${(x0 / UNITS) * 100}%`,
        top: `${(y0 / UNITS) * 100}%`,
        width: `${((x1 - x0) / UNITS) * 100}%`,
        height: `${((y1 - y0) / UNITS) * 100}%`,
      });
      selection.title = composer.labelOf(it);
    };
    composer.onSelect = sync;
    composer.onChange = () => {
      sync();
      if (app.source !== this.#scene) app.setSource(this.#scene);
      else app.request(3);
    };
    const selected = (fn: (id: number) => void) => () => {
      const it = composer.selectedItem;
      if (it) fn(it.id);
    };
    size.addEventListener(
      'input',
      selected((id) => composer.resize(id, Number(size.value))),
    );
    tint.addEventListener(
      'input',
      selected((id) => composer.setTint(id, hexToRgb(tint.value))),
    );
    byId('item-remove').addEventListener(
      'click',
      selected((id) => composer.remove(id)),
    );
    const kind = byId<HTMLSelectElement>('bg-kind');
    kind.value = composer.background.kind;
    kind.addEventListener('change', () => composer.setBackground({ kind: kind.value as BackgroundKind }));
    byId('bg-shuffle').addEventListener('click', () =>
      composer.setBackground({ seed: Math.floor(Math.random() * 2 ** 31) }),
    );
    byId('scene-clear').addEventListener('click', () => composer.clear());
    composer.draw();
  }
}
