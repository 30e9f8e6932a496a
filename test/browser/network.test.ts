/**
 * Whole networks and explain() inside headless Chromium: the page's WebGPU results equal the
 * CPU reference computed here in Node.
 */
import { describe, expect, it } from 'vitest';
import { refExplain, type ExplainArrays, type ExplainCase } from '../cases/explain';
import { NETS } from '../cases/nets';
import { refNetwork, type NetworkCase, type NetworkResult } from '../cases/network';
import { expectAllclose, MAPS, NETWORK } from '../util/compare';
import { withPage } from './browser';

describe('whole networks in headless Chromium equal the CPU reference', () => {
  const cases: [keyof typeof NETS, NetworkCase][] = [
    ['plain', { n: 2, t: 3, layer: 'relu2' }],
    ['residual', { n: 1, t: 2, layer: 'relu2' }],
    ['branchy', { n: 2, t: 2, layer: 'relu3' }],
  ];
  it.each(cases)('%s %j', (net, c) =>
    withPage(async (page) => {
      const gpu = await page.run<NetworkResult & { liveTensors: number }>('network', { net, c });
      const ref = refNetwork(NETS[net](), c);
      for (const key of ['output', 'layerActivation', 'gradLayer', 'gradInput', 'gradInputGuided'] as const) {
        expectAllclose(gpu[key], ref[key], NETWORK, key);
      }
      expect(gpu.liveTensors).toBe(0);
    }),
  );
});

describe('explain() in headless Chromium equals the CPU reference', () => {
  const cases: ExplainCase[] = [
    {
      net: 'plain',
      n: 1,
      methods: ['cam', 'gradcam', 'gradcam++', 'counterfactual', 'guided-backprop', 'guided-gradcam'],
      targets: { topK: 5 },
    },
    { net: 'residual', n: 2, methods: ['gradcam', 'gradcam++'], targets: [2, 0] },
  ];
  it.each(cases)('$net, N = $n, targets $targets', (c) =>
    withPage(async (page) => {
      const gpu = await page.run<ExplainArrays & { liveTensors: number }>('explain', c);
      const ref = refExplain(c);
      expect(gpu.classes).toEqual(ref.classes);
      expectAllclose(gpu.scores, ref.scores, NETWORK, 'scores');
      for (const m of c.methods) expectAllclose(gpu.maps[m], ref.maps[m], MAPS, m);
      expect(gpu.liveTensors).toBe(0);
    }),
  );
});
