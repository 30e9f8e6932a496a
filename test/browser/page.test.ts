/**
 * Browser smoke tests: headless Chromium gets a WebGPU adapter, the engine runs a kernel in the
 * page and agrees with the CPU reference, and the demo page works. No skipping: without WebGPU
 * these fail and say why.
 */
import { describe, expect, it } from 'vitest';
import type { AdapterDescription } from '../../src/gpu/device';
import { unaryForward } from '../../src/reference/elementwise';
import { hostTensor } from '../../src/reference/tensor';
import { EXACT, expectAllclose } from '../util/compare';
import { randn } from '../util/random';
import { withPage } from './browser';

interface WebGPUInfo {
  gpu: boolean;
  secureContext: boolean;
  adapter: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    adapterIsFallback: boolean | null;
    infoIsFallback: boolean | null;
  } | null;
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
      expectAllclose(r.y, unaryForward('relu', hostTensor([x.length], x)).data, EXACT, 'relu in the browser');
      expect(r.liveTensors).toBe(0);
      expect(r.adapter.isSoftware).toBe(r.adapter.kind === 'software');
      console.log(`browser engine adapter: ${r.adapter.kind} (${r.adapter.kindReason})`);
      // SwiftShader must be recognised by its flag or its name (its kernels depend on it), not
      // fall to the rule for empty adapter info.
      if (/swiftshader/i.test(r.adapter.architecture + r.adapter.description)) {
        expect(r.adapter.kind).toBe('software');
        expect(r.adapter.kindReason).toMatch(/^(isFallbackAdapter|adapter info names SwiftShader)$/);
      }
    }));
});

describe('demo page', () => {
  // The full page tests are in demo.test.ts; this is the smoke test: it loads, reports the
  // adapter, explains the first sample, and logs no console error (withPage fails on one).
  it('loads, reports the WebGPU adapter and explains the first sample, with no console errors', () =>
    withPage(async ({ page }) => {
      await page.waitForFunction(() => document.documentElement.dataset.state, { timeout: 90_000 });
      const state = await page.evaluate(() => document.documentElement.dataset.state);
      const reason = await page.$eval('#no-webgpu-reason', (el) => el.textContent ?? '');
      expect(state, reason).toBe('ready');
      const adapter = await page.$eval('#adapter', (el) => el.textContent ?? '');
      expect(adapter).toMatch(/^WebGPU adapter: \S/);
      const s = await page.evaluate(() => window.__camDemo.summary());
      expect(s.adapter.vendor + s.adapter.architecture + s.adapter.description).not.toBe('');
      expect(s.error).toBeNull();
      expect(s.runs).toBeGreaterThanOrEqual(1);
      expect(s.model).not.toBeNull();
      expect(s.top5.length).toBe(5);
      await page.waitForSelector('#top5 button[aria-pressed="true"]');
    }, '/demo/index.html'));
});
