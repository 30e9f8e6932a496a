/**
 * The model panel: the shipped models, your own ONNX file with a labels/sidecar JSON, what the
 * loaded model is (size, classes, whether CAM applies), and the layer picker. A model that fails
 * to load leaves the current one in place and says why.
 */
import { modelCardUrl, shippedModels, type ShippedModel } from '../assets';
import type { App } from '../app';
import { loadModel, readSidecarFile, type DemoModel, type ModelSource } from '../models';
import { byId, el, errorText } from './dom';

export class ModelPanel {
  readonly shipped: ShippedModel[] = shippedModels();
  readonly #select = byId<HTMLSelectElement>('model-select');
  readonly #info = byId('model-info');
  readonly #error = byId('model-error');
  readonly #layers = byId<HTMLSelectElement>('layer-select');
  /** The picker's value for the model in use (restored after a failed load). */
  #current = '';
  /** The user's last opened model, to switch back to from the picker. */
  #own: ModelSource | null = null;

  constructor(
    readonly app: App,
    readonly status: (text: string, busy: boolean) => void,
  ) {
    const select = this.#select;
    select.replaceChildren(...this.shipped.map((m) => el('option', { value: m.id }, m.id)));
    if (!this.shipped.length) select.append(el('option', { value: '' }, '(no shipped models: open your own below)'));
    this.#current = select.value;
    select.addEventListener('change', () => {
      const entry = this.shipped.find((m) => m.id === select.value);
      if (entry) void this.open({ kind: 'shipped', entry });
      else if (select.value === '__own' && this.#own) {
        void this.open(this.#own).then((ok) => ok && (this.#current = '__own'));
      }
    });
    this.#layers.addEventListener('change', () => {
      app.settings.layer = this.#layers.value;
      app.request(3);
    });
    const onnxFile = byId<HTMLInputElement>('onnx-file');
    const labelsFile = byId<HTMLInputElement>('labels-file');
    const load = byId<HTMLButtonElement>('onnx-load');
    onnxFile.addEventListener('change', () => (load.disabled = !onnxFile.files?.length));
    load.addEventListener('click', () => {
      const f = onnxFile.files?.[0];
      if (f) void this.openFiles(f, labelsFile.files?.[0] ?? null);
    });
  }

  #fail(what: string, err: unknown): void {
    const m = this.app.model;
    this.#error.textContent = `${what}${errorText(err)}.${m ? ` The previous model (${m.name}) is still in use.` : ''}`;
    this.#error.hidden = false;
  }

  /** Load a model; on failure show the error and keep the current one. Resolves true on success. */
  async open(src: ModelSource): Promise<boolean> {
    const name = src.kind === 'shipped' ? src.entry.id : src.name;
    this.#error.hidden = true;
    this.status(`Loading ${name}…`, true);
    try {
      const m = await this.app.gpu(() => loadModel(this.app.e, src));
      this.#describe(m);
      await this.app.setModel(m);
      if (src.kind === 'shipped') this.#current = src.entry.id;
      return true;
    } catch (err) {
      this.#fail(`Could not open ${src.kind === 'shipped' ? name : `'${name}'`}: `, err);
      this.#select.value = this.#current;
      this.status(this.app.model ? 'Ready.' : 'No model loaded.', false);
      return false;
    }
  }

  /** Open the user's .onnx file with an optional labels/sidecar JSON file. */
  async openFiles(file: File, labels: File | null): Promise<boolean> {
    let sidecar: unknown;
    try {
      sidecar = labels ? await readSidecarFile(labels) : null;
    } catch (err) {
      this.#fail('', err);
      return false;
    }
    const src: ModelSource = {
      kind: 'file',
      name: file.name,
      bytes: new Uint8Array(await file.arrayBuffer()),
      sidecar,
    };
    const ok = await this.open(src);
    if (ok) {
      this.#own = src;
      let opt = this.#select.querySelector<HTMLOptionElement>('option[value="__own"]');
      if (!opt) this.#select.append((opt = el('option', { value: '__own' })));
      opt.textContent = `your model: ${file.name}`;
      this.#select.value = this.#current = '__own';
    }
    return ok;
  }

  #describe(m: DemoModel): void {
    const layer = m.layers.find((l) => l.name === m.defaultLayer)!;
    const card = modelCardUrl();
    this.#info.replaceChildren(
      `${m.name}: input ${m.size[0]}×${m.size[1]}, ${m.labels.length} classes, ${(m.model.weightBytes / 1e6).toFixed(2)} MB of weights. `,
      layer.camReason === null
        ? 'Its head is global average pool → linear, so CAM applies.'
        : `CAM does not apply: ${layer.camReason}.`,
      card ? ' ' : '',
      card ? el('a', { href: card, target: '_blank', rel: 'noopener' }, 'Model card') : '',
    );
    this.#layers.replaceChildren(
      ...m.layers.map((l) =>
        el(
          'option',
          { value: l.name, title: l.name },
          // A module's name where the model has them ('layer4.1.relu = layer4.1 = layer4'), else the tensor's.
          `${l.modules.length ? l.modules.join(' = ') : l.name} — ${l.shape[0]}×${l.shape[1]}×${l.shape[2]}` +
            (l.name === m.defaultLayer ? ' (default)' : ''),
        ),
      ),
    );
    this.#layers.value = m.defaultLayer;
  }
}
