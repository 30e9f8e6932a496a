/**
 * Browser smoke tests: headless Chromium gets a WebGPU adapter, the engine runs a kernel in the
 * page and agrees with the CPU reference, and the demo page works. No skipping: without WebGPU
 * these fail and say why.
 */
import { describe, expect, it } from 'vitest';
import type { AdapterDescription } from '../../src/gpu/device';
import { reluForward } from '../../src/reference/relu';
import { hostTensor } from '../../src/reference/tensor';
import { expectAllclose, F32 } from '../util/compare';
import { randn } from '../util/random';
import { withPage } from './browser';

interface WebGPUInfo {
  gpu: boolean;
  secureContext: boolean;
  adapter: { vendor: string; architecture: string; device: string; description: string } | null;
}

describe('headless Chromium', () => {
  it('has a WebGPU adapter', () =>
    withPage(async (page) => {
      const info = await page.run<WebGPUInfo>('webgpu-info');
      if (!info.gpu) {
        throw new Error(
          `navigator.gpu is missing in the page (secure context: ${info.secureContext}); Chromium needs --enable-unsafe-webgpu on Linux`,
        );
      }
      if (!info.adapter) {
        throw new Error(
          'navigator.gpu.requestAdapter() returned null: no GPU and no SwiftShader fallback (check the Chromium flags in scripts/chromium.mjs)',
        );
      }
      console.log(`browser WebGPU adapter: ${JSON.stringify(info.adapter)}`);
      expect(info.adapter.vendor + info.adapter.architecture + info.adapter.description).not.toBe('');
    }));

  it('runs ReLU forward on the GPU, equal to the CPU reference', () =>
    withPage(async (page) => {
      const x = randn(1000, 7);
      x[0] = 0;
      x[1] = -0;
      const r = await page.run<{ y: Float32Array; adapter: AdapterDescription; liveTensors: number }>('relu-forward', {
        x,
      });
      expect(r.y).toBeInstanceOf(Float32Array);
      expect(r.y.length).toBe(x.length);
      expectAllclose(r.y, reluForward(hostTensor([x.length], x)).data, F32, 'relu in the browser');
      expect(r.liveTensors).toBe(0);
      expect(typeof r.adapter.isSoftware).toBe('boolean');
    }));
});

describe('demo page', () => {
  it('acquires WebGPU and shows the ReLU result, with no console errors', () =>
    withPage(async ({ page }) => {
      await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 60_000 });
      const status = await page.$eval('#status', (el) => ({
        state: (el as HTMLElement).dataset.state,
        text: el.textContent ?? '',
      }));
      expect(status.state, status.text).toBe('done');
      const result = await page.$eval('#result', (el) => el.textContent ?? '');
      expect(result).toContain('relu(x) = [0, 0, 0, 0, 0.25, 1, 1.5, 3]');
      const adapter = await page.$eval('#adapter', (el) => el.textContent ?? '');
      expect(adapter).toMatch(/vendor:/);
    }, '/demo/index.html'));
});
