import { expect, it } from 'vitest';
import { gpuExplainOverlay, refExplainOverlay } from '../cases/explain-overlay';
import { getEngine } from '../util/gpu';
import { expectOverlayMatches } from '../util/overlay-compare';

it("an explanation's overlay equals the CPU colormap + blend of the reference map", async () => {
  const e = await getEngine();
  const got = await gpuExplainOverlay(e);
  const { map, bytes } = refExplainOverlay();
  expectOverlayMatches(got, bytes, map);
  expect(e.liveTensors).toBe(0);
});
