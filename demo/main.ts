/**
 * Placeholder demo: acquire WebGPU through the engine, run ReLU forward on a small array and show
 * the adapter and the result. Without WebGPU it says what the browser needs; nothing is thrown.
 */
import { Engine } from '../src/gpu/engine';
import { WebGPUUnavailableError } from '../src/gpu/errors';
import { reluForward } from '../src/ops/relu';

const status = document.getElementById('status')!;
const adapterBox = document.getElementById('adapter')!;
const resultBox = document.getElementById('result')!;

function show(el: HTMLElement, text: string): void {
  el.textContent = text;
  el.hidden = false;
}

function fail(message: string): void {
  status.textContent = message;
  status.className = 'error';
  status.dataset.state = 'error';
}

async function main(): Promise<void> {
  if (!('gpu' in navigator)) {
    fail(
      'This browser does not expose WebGPU (navigator.gpu is missing). Use a browser with WebGPU enabled, ' +
        'such as Chrome or Edge 113 or later (on Linux, Chrome needs the --enable-unsafe-webgpu flag), ' +
        'and open the page over https or from localhost.',
    );
    return;
  }
  let engine: Engine;
  try {
    engine = await Engine.create();
  } catch (e) {
    fail(e instanceof WebGPUUnavailableError ? e.message : `Could not acquire a WebGPU device: ${String(e)}`);
    return;
  }
  try {
    const a = engine.adapter;
    status.textContent = `WebGPU device acquired${a.isSoftware ? ' (software adapter: expect it to be slow)' : ''}.`;
    status.dataset.state = 'ready';
    show(
      adapterBox,
      [
        `vendor:       ${a.vendor || '(not reported)'}`,
        `architecture: ${a.architecture || '(not reported)'}`,
        `device:       ${a.device || '(not reported)'}`,
        `description:  ${a.description || '(not reported)'}`,
      ].join('\n'),
    );

    const input = [-2, -1.5, -0.25, 0, 0.25, 1, 1.5, 3];
    const output = await engine.scope(async () => {
      const x = engine.upload(input, [input.length], 'demo:x');
      const y = await reluForward(engine, x);
      return y.read();
    });
    show(resultBox, `x       = [${input.join(', ')}]\nrelu(x) = [${Array.from(output).join(', ')}]`);
    status.dataset.state = 'done';
  } catch (e) {
    fail(`The GPU run failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    engine.destroy();
  }
}

void main();
