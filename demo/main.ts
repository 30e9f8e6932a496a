/**
 * The demo page: pick a model and an image (samples, your own file, or a scene you compose), and
 * see six attribution maps and how they are computed, all on WebGPU. Wiring only; the parts live
 * in app.ts (state and run loop), composer.ts, models.ts, images.ts and views/.
 */
import { Engine } from '../src/gpu/engine';
import { WebGPUUnavailableError } from '../src/gpu/errors';
import type { Method } from '../src/attribution/explain';
import { fitRegion, type Fit } from '../src/ops/preprocess';
import { COLORMAPS, type ColormapName } from '../src/render/colormaps';
import { App, type Renderer, type RunResult } from './app';
import { modelCardUrl, samples, shippedModels, sprites, type Sample } from './assets';
import { Composer, hexToRgb, rgbToHex, UNITS } from './composer';
import { installHook } from './hook';
import { decodeBlob, decodeUrl, putPixels, type ImageSource, type RGBAImage } from './images';
import { loadModel, readSidecarFile, type DemoModel, type ModelSource } from './models';
import { byId, el } from './views/dom';
import { InsideView } from './views/inside';
import { MapsView } from './views/maps';
import { SummaryView } from './views/summary';

/** Replace the page by a message: no WebGPU (what the browser needs), or another fatal error. */
function fatal(message: string, kind: 'no-webgpu' | 'failed' = 'no-webgpu'): void {
  const a = byId('adapter');
  if (kind === 'no-webgpu') a.textContent = 'No WebGPU';
  a.dataset.state = 'error';
  byId('no-webgpu-reason').textContent = message;
  if (kind === 'failed') {
    byId('no-webgpu').querySelector('h2')!.textContent = 'The page stopped';
    for (const p of byId('no-webgpu').querySelectorAll('p:not(#no-webgpu-reason)')) p.remove();
  }
  byId('no-webgpu').hidden = false;
  byId('app').hidden = true;
  document.documentElement.dataset.state = kind;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function main(): Promise<void> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    fatal(
      `This browser does not expose WebGPU (navigator.gpu is missing${window.isSecureContext ? '' : '; the page is also not in a secure context'}).`,
    );
    return;
  }
  let engine: Engine;
  try {
    engine = await Engine.create();
  } catch (e) {
    fatal(e instanceof WebGPUUnavailableError ? e.message : `Could not acquire a WebGPU device: ${errorText(e)}`);
    return;
  }
  const ad = engine.adapter;
  const adapterEl = byId('adapter');
  const adapterName =
    [ad.vendor, ad.architecture, ad.device].filter(Boolean).join(' · ') || ad.description || 'unnamed adapter';
  adapterEl.replaceChildren(
    `WebGPU adapter: ${adapterName}`,
    ad.isSoftware
      ? el('span', { class: 'badge', title: 'A CPU implementation of WebGPU: expect it to be slow' }, 'software')
      : '',
  );
  adapterEl.title = ad.description;
  adapterEl.dataset.state = 'ready';
  engine.device.lost.then((info) => {
    if (info.reason !== 'destroyed') fatal(`The GPU device was lost: ${info.message}. Reload the page.`);
  });
  byId('app').hidden = false;

  // ---------------------------------------------------------------- views and app
  const statusEl = byId('run-status');
  const modelError = byId('model-error');
  // The views need the app and the app needs the renderer: the renderer looks them up late.
  const views = {} as { maps: MapsView; inside: InsideView; summary: SummaryView };
  const renderer: Renderer = {
    maps: (r) => views.maps.render(r),
    inside: (r) => views.inside.render(r),
    summary: (r) => {
      views.summary.render(r);
      showOriginal(r);
    },
    status(text, busy) {
      statusEl.textContent = text;
      statusEl.dataset.busy = String(busy);
    },
    error(message) {
      const box = byId('run-error-slot');
      box.hidden = !message;
      box.textContent = message ?? '';
    },
  };
  statusEl.after(el('p', { id: 'run-error-slot', class: 'error', role: 'alert', hidden: '' }));
  const app = new App(engine, renderer);
  const selectMethod = (m: Method) => {
    app.settings.method = m;
    maps.select(m);
    inside.select(m);
    app.request(1);
  };
  const maps = (views.maps = new MapsView(app, byId('maps'), byId<HTMLCanvasElement>('model-input'), (m) => {
    selectMethod(m);
    byId('inside').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }));
  const inside = (views.inside = new InsideView(app, byId('inside-tabs'), byId('inside-body'), selectMethod));
  views.summary = new SummaryView(app, (cls) => {
    app.settings.pinned = cls;
    app.request(3);
  });
  maps.select(app.settings.method);
  inside.select(app.settings.method);

  // ---------------------------------------------------------------- display controls
  const opacity = byId<HTMLInputElement>('opacity');
  opacity.value = String(app.settings.opacity);
  opacity.addEventListener('input', () => {
    app.settings.opacity = Number(opacity.value);
    app.request(2);
  });
  const colormap = byId<HTMLSelectElement>('colormap');
  colormap.replaceChildren(...COLORMAPS.map((c) => el('option', { value: c }, c)));
  colormap.value = app.settings.colormap;
  colormap.addEventListener('change', () => {
    app.settings.colormap = colormap.value as ColormapName;
    app.request(2);
  });
  const layerSelect = byId<HTMLSelectElement>('layer-select');
  layerSelect.addEventListener('change', () => {
    app.settings.layer = layerSelect.value;
    app.request(3);
  });
  const fitSelect = byId<HTMLSelectElement>('fit-select');
  fitSelect.value = app.settings.fit;
  fitSelect.addEventListener('change', () => {
    app.settings.fit = fitSelect.value as Fit;
    app.request(3);
  });

  // ---------------------------------------------------------------- models
  const modelSelect = byId<HTMLSelectElement>('model-select');
  const modelInfo = byId('model-info');
  const shipped = shippedModels();
  modelSelect.replaceChildren(...shipped.map((m) => el('option', { value: m.id }, m.id)));
  if (!shipped.length) modelSelect.append(el('option', { value: '' }, '(no shipped models: open your own below)'));
  let currentOption = modelSelect.value;

  const describe = (m: DemoModel) => {
    const layer = m.layers.find((l) => l.name === m.defaultLayer)!;
    const card = modelCardUrl();
    modelInfo.replaceChildren(
      `${m.name}: input ${m.size[0]}×${m.size[1]}, ${m.labels.length} classes, ${(m.model.weightBytes / 1e6).toFixed(2)} MB of weights. `,
      layer.camReason === null
        ? 'Its head is global average pool → linear, so CAM applies.'
        : `CAM does not apply: ${layer.camReason}.`,
      card ? ' ' : '',
      card ? el('a', { href: card, target: '_blank', rel: 'noopener' }, 'Model card') : '',
    );
    layerSelect.replaceChildren(
      ...m.layers.map((l) =>
        el(
          'option',
          { value: l.name },
          `${l.name} — ${l.shape[0]}×${l.shape[1]}×${l.shape[2]}${l.name === m.defaultLayer ? ' (default)' : ''}`,
        ),
      ),
    );
    layerSelect.value = m.defaultLayer;
  };

  /** Load a model; on failure show the error and keep the current one. Resolves true on success. */
  const openModel = async (src: ModelSource): Promise<boolean> => {
    modelError.hidden = true;
    renderer.status(`Loading ${src.kind === 'shipped' ? src.entry.id : src.name}…`, true);
    try {
      const m = await app.gpu(() => loadModel(engine, src));
      describe(m);
      await app.setModel(m);
      if (src.kind === 'shipped') currentOption = src.entry.id;
      return true;
    } catch (err) {
      modelError.textContent = `Could not open ${src.kind === 'shipped' ? src.entry.id : `'${src.name}'`}: ${errorText(err)}.${app.model ? ` The previous model (${app.model.name}) is still in use.` : ''}`;
      modelError.hidden = false;
      modelSelect.value = currentOption;
      renderer.status(app.model ? 'Ready.' : 'No model loaded.', false);
      return false;
    }
  };
  /** The user's last opened model, to switch back to from the picker. */
  let ownModel: ModelSource | null = null;
  modelSelect.addEventListener('change', () => {
    const entry = shipped.find((m) => m.id === modelSelect.value);
    if (entry) void openModel({ kind: 'shipped', entry });
    else if (modelSelect.value === '__own' && ownModel) {
      const own = ownModel;
      void openModel(own).then((ok) => ok && (currentOption = '__own'));
    }
  });
  const onnxFile = byId<HTMLInputElement>('onnx-file');
  const labelsFile = byId<HTMLInputElement>('labels-file');
  const onnxLoad = byId<HTMLButtonElement>('onnx-load');
  onnxFile.addEventListener('change', () => (onnxLoad.disabled = !onnxFile.files?.length));
  const openOwn = async (file: File, labels: File | null) => {
    let sidecar: unknown;
    try {
      sidecar = labels ? await readSidecarFile(labels) : null;
    } catch (err) {
      modelError.textContent = `${errorText(err)}.${app.model ? ` The previous model (${app.model.name}) is still in use.` : ''}`;
      modelError.hidden = false;
      return false;
    }
    const src: ModelSource = {
      kind: 'file',
      name: file.name,
      bytes: new Uint8Array(await file.arrayBuffer()),
      sidecar,
    };
    const ok = await openModel(src);
    if (ok) {
      ownModel = src;
      if (!modelSelect.querySelector('option[value="__own"]')) modelSelect.append(el('option', { value: '__own' }, ''));
      const opt = modelSelect.querySelector<HTMLOptionElement>('option[value="__own"]')!;
      opt.textContent = `your model: ${file.name}`;
      modelSelect.value = currentOption = '__own';
    }
    return ok;
  };
  onnxLoad.addEventListener('click', () => {
    const f = onnxFile.files?.[0];
    if (f) void openOwn(f, labelsFile.files?.[0] ?? null);
  });

  // ---------------------------------------------------------------- images
  const original = byId<HTMLCanvasElement>('original');
  const originalCaption = byId('original-caption');
  const inputCaption = byId('input-caption');
  function showOriginal(r: RunResult): void {
    const img = r.image;
    const g = putPixels(original, img);
    const [H, W] = r.model.size;
    const reg = fitRegion(img.width, img.height, H, W, r.fit);
    const line = Math.max(1, Math.round(Math.max(img.width, img.height) / 150));
    // Shade what the model does not see; outline what it does.
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
    const what = r.fit === 'stretch' ? 'stretched' : 'centre crop';
    const scaled = img.scaledFrom ? ` (scaled down from ${img.scaledFrom[0]}×${img.scaledFrom[1]})` : '';
    originalCaption.textContent = `${r.source.name}: ${img.width}×${img.height} px${scaled}${items.length ? ` (boxes: ${items.map((i) => i.label).join(', ')})` : ''}`;
    inputCaption.textContent = `What the model sees: ${W}×${H}, ${what}${reg.w !== img.width || reg.h !== img.height ? ` of ${Math.round(reg.w)}×${Math.round(reg.h)}` : ''}`;
  }

  // Samples gallery
  const gallery = byId('gallery');
  const sampleList = samples();
  const chooseSample = async (s: Sample) => {
    for (const b of gallery.querySelectorAll('button'))
      b.setAttribute('aria-pressed', String(b.dataset.file === s.file));
    const pixels = await decodeUrl(s.url, s.file);
    app.setSource({ name: s.name.replace(/_/g, ' '), kind: 'sample', pixels: () => pixels, items: () => s.items });
  };
  gallery.replaceChildren(
    ...sampleList.map((s) => {
      const b = el('button', { type: 'button', 'data-file': s.file, 'aria-pressed': 'false', title: s.description }, [
        el('img', { src: s.url, alt: '' }),
        el('span', {}, s.items.map((i) => i.label).join(', ')),
      ]);
      b.addEventListener('click', () => chooseSample(s).catch((err) => renderer.error(errorText(err))));
      return el('li', {}, b);
    }),
  );
  if (!sampleList.length) byId('samples-note').textContent = 'No sample scenes are shipped with this build.';

  // Your own image
  const openImage = async (file: Blob, name: string) => {
    try {
      const pixels = await decodeBlob(file, name);
      showTab('file');
      app.setSource({ name, kind: 'file', pixels: () => pixels });
    } catch (err) {
      renderer.error(errorText(err));
    }
  };
  const imageFile = byId<HTMLInputElement>('image-file');
  imageFile.addEventListener('change', () => {
    const f = imageFile.files?.[0];
    if (f) void openImage(f, f.name);
  });
  // Drop anywhere: images are explained, .onnx files are opened as models.
  const hint = byId('drop-hint');
  let dragDepth = 0;
  document.addEventListener('dragenter', (ev) => {
    if (!ev.dataTransfer?.types.includes('Files')) return;
    dragDepth++;
    hint.hidden = false;
  });
  document.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) hint.hidden = true;
  });
  document.addEventListener('dragover', (ev) => {
    if (ev.dataTransfer?.types.includes('Files')) ev.preventDefault();
  });
  document.addEventListener('drop', (ev) => {
    dragDepth = 0;
    hint.hidden = true;
    const files = [...(ev.dataTransfer?.files ?? [])];
    if (!files.length) return;
    ev.preventDefault();
    const onnx = files.find((f) => f.name.toLowerCase().endsWith('.onnx'));
    if (onnx) {
      const labels = files.find((f) => f.name.toLowerCase().endsWith('.json')) ?? null;
      void openOwn(onnx, labels);
      return;
    }
    const image = files.find((f) => f.type.startsWith('image/')) ?? files[0];
    void openImage(image, image.name);
  });
  document.addEventListener('paste', (ev) => {
    const item = [...(ev.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'));
    const file = item?.getAsFile();
    if (!file) return;
    ev.preventDefault();
    void openImage(file, 'pasted image');
  });

  // Scene composer
  const composer = new Composer(byId<HTMLCanvasElement>('scene'));
  const spriteSet = sprites();
  try {
    await composer.load(spriteSet.sprites);
  } catch (err) {
    renderer.error(`The scene composer's sprites could not be loaded: ${errorText(err)}`);
  }
  const sceneSource: ImageSource = {
    name: 'your scene',
    kind: 'scene',
    pixels: (): RGBAImage => composer.pixels(),
    items: () => composer.itemBoxes(),
  };
  const palette = byId('palette');
  palette.replaceChildren(
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
  const itemTools = byId('item-tools');
  const itemSize = byId<HTMLInputElement>('item-size');
  const itemTint = byId<HTMLInputElement>('item-tint');
  const selection = byId('scene-selection');
  const syncSelection = () => {
    const it = composer.selectedItem;
    itemTools.hidden = !it;
    selection.hidden = !it;
    if (!it) return;
    itemSize.value = String(Math.round(it.side));
    itemTint.value = rgbToHex(it.tint);
    const [x0, y0, x1, y1] = composer.boxOf(it);
    Object.assign(selection.style, {
      left: `${(x0 / UNITS) * 100}%`,
      top: `${(y0 / UNITS) * 100}%`,
      width: `${((x1 - x0) / UNITS) * 100}%`,
      height: `${((y1 - y0) / UNITS) * 100}%`,
    });
    selection.title = composer.labelOf(it);
  };
  composer.onSelect = syncSelection;
  composer.onChange = () => {
    syncSelection();
    if (app.source !== sceneSource) app.setSource(sceneSource);
    else app.request(3);
  };
  itemSize.addEventListener('input', () => {
    const it = composer.selectedItem;
    if (it) composer.resize(it.id, Number(itemSize.value));
  });
  itemTint.addEventListener('input', () => {
    const it = composer.selectedItem;
    if (it) composer.setTint(it.id, hexToRgb(itemTint.value));
  });
  byId('item-remove').addEventListener('click', () => {
    const it = composer.selectedItem;
    if (it) composer.remove(it.id);
  });
  const bgKind = byId<HTMLSelectElement>('bg-kind');
  bgKind.value = composer.background.kind;
  bgKind.addEventListener('change', () => composer.setBackground({ kind: bgKind.value as never }));
  byId('bg-shuffle').addEventListener('click', () =>
    composer.setBackground({ seed: Math.floor(Math.random() * 2 ** 31) }),
  );
  byId('scene-clear').addEventListener('click', () => composer.clear());

  // Tabs of the image panel
  const tabs = ['samples', 'compose', 'file'] as const;
  function showTab(which: (typeof tabs)[number]): void {
    for (const t of tabs) {
      const tab = byId(`tab-${t}`);
      tab.setAttribute('aria-selected', String(t === which));
      tab.tabIndex = t === which ? 0 : -1;
      byId(`pane-${t}`).hidden = t !== which;
    }
  }
  tabs.forEach((t, i) => {
    const tab = byId(`tab-${t}`);
    tab.addEventListener('click', () => {
      showTab(t);
      if (t === 'compose') {
        if (!composer.items.length && composer.sprites.length) {
          composer.add({ cls: composer.classes()[0].class, x: 34, y: 48 });
        } else {
          composer.draw();
          app.setSource(sceneSource);
        }
      }
    });
    tab.addEventListener('keydown', (ev) => {
      const step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (!step) return;
      ev.preventDefault();
      const next = byId(`tab-${tabs[(i + step + tabs.length) % tabs.length]}`);
      next.focus();
      next.click();
    });
  });
  composer.draw();

  installHook({ app, maps, inside, composer, samples: sampleList, chooseSample, openOwn, openImage, showTab });

  // ---------------------------------------------------------------- start
  if (shipped.length) await openModel({ kind: 'shipped', entry: shipped[0] });
  else renderer.status('No shipped model in this build: open your own ONNX classifier.', false);
  if (sampleList.length) await chooseSample(sampleList.find((s) => s.items.length === 2) ?? sampleList[0]);
  await app.idle();
  document.documentElement.dataset.state = 'ready';
}

main().catch((err) => {
  // Last resort: show it rather than throw into the console.
  fatal(`The page failed to start: ${errorText(err)}`, 'failed');
});
