/**
 * A network built by hand so that two classes depend on two disjoint image regions: class 0
 * ("red") sums a red-blob detector, class 1 ("green") a green-blob detector, each with a
 * negative weight on the other's detector. The scene puts a red square in the top-left
 * quadrant and a green square in the bottom-right one.
 */
import type { GraphSpec } from '../../src/model/spec';

export const REGION_SIZE = 16;

export function regionsNet(): GraphSpec {
  // conv 3→2, 3×3, pad 1: channel 0 = R − G − B (red), channel 1 = G − R − B (green), averaged over the window.
  const w = new Float32Array(2 * 3 * 9);
  for (let t = 0; t < 9; t++) {
    w[0 * 27 + 0 * 9 + t] = 1 / 9;
    w[0 * 27 + 1 * 9 + t] = -1 / 9;
    w[0 * 27 + 2 * 9 + t] = -1 / 9;
    w[1 * 27 + 0 * 9 + t] = -1 / 9;
    w[1 * 27 + 1 * 9 + t] = 1 / 9;
    w[1 * 27 + 2 * 9 + t] = -1 / 9;
  }
  return {
    name: 'regions',
    input: { name: 'image', shape: [3, REGION_SIZE, REGION_SIZE] },
    output: 'logits',
    labels: ['red', 'green'],
    nodes: [
      {
        op: 'conv2d',
        name: 'detect',
        inputs: ['image'],
        output: 'detect',
        attrs: { pads: [1, 1, 1, 1] },
        weights: { weight: { shape: [2, 3, 3, 3], data: w }, bias: { shape: [2], data: [0, 0] } },
      },
      { op: 'relu', name: 'features', inputs: ['detect'], output: 'features' },
      { op: 'globalavgpool', name: 'gap', inputs: ['features'], output: 'gap' },
      { op: 'flatten', name: 'flat', inputs: ['gap'], output: 'flat' },
      {
        op: 'linear',
        name: 'logits',
        inputs: ['flat'],
        output: 'logits',
        weights: { weight: { shape: [2, 2], data: [1, -0.5, -0.5, 1] }, bias: { shape: [2], data: [0, 0] } },
      },
    ],
  };
}

/** Red square at rows/cols 2..5, green square at rows/cols 10..13, on black. [1, 3, 16, 16]. */
export function regionsScene(): Float32Array {
  const S = REGION_SIZE;
  const x = new Float32Array(3 * S * S);
  for (let y = 2; y < 6; y++) for (let xx = 2; xx < 6; xx++) x[0 * S * S + y * S + xx] = 1;
  for (let y = 10; y < 14; y++) for (let xx = 10; xx < 14; xx++) x[1 * S * S + y * S + xx] = 1;
  return x;
}

/** Which quadrant a flat index of an S×S map falls in: 'top-left', 'bottom-right', or 'other'. */
export function quadrantOf(index: number, S = REGION_SIZE): string {
  const y = Math.floor(index / S);
  const x = index % S;
  if (y < S / 2 && x < S / 2) return 'top-left';
  if (y >= S / 2 && x >= S / 2) return 'bottom-right';
  return 'other';
}
