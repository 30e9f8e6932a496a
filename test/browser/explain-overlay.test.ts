import { expect, it } from 'vitest';
import { refExplainOverlay } from '../cases/explain-overlay';
import { expectOverlayMatches } from '../util/overlay-compare';
import { withPage } from './browser';

it('in headless Chromium, an explanation drawn into a WebGPU canvas equals the CPU overlay of the reference map', () =>
  withPage(async (page) => {
    const r = await page.run<{ canvas: Uint8ClampedArray; readback: Uint8ClampedArray; liveTensors: number }>(
      'explain-overlay',
    );
    const { map, bytes } = refExplainOverlay();
    expectOverlayMatches(r.canvas, bytes, map);
    expect([...r.canvas]).toEqual([...r.readback]);
    expect(r.liveTensors).toBe(0);
  }));
