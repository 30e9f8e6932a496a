/**
 * explainableLayers(): the layers the CLI, the element and the demo offer, on the two shipped
 * models (no GPU: the graph of the converted ONNX file).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explainableLayers } from '../../src/attribution/explain';
import { Graph } from '../../src/model/graph';
import { onnxToGraphSpec } from '../../src/model/onnx';

const weights = (f: string) => fileURLToPath(new URL(`../../weights/${f}`, import.meta.url));
const graphOf = (id: string) => new Graph(onnxToGraphSpec(readFileSync(weights(`${id}.onnx`))).spec);

describe('explainableLayers', () => {
  it('fashion_cam: spatial layers the scores depend on, CAM at the last one', () => {
    const g = graphOf('fashion_cam');
    const layers = explainableLayers(g);
    expect(layers.length).toBeGreaterThan(3);
    for (const l of layers) {
      expect(g.shape(l.name)).toEqual([1, ...l.shape]);
      expect(l.shape[1] * l.shape[2]).toBeGreaterThan(1);
      expect(l.methods).toContain('gradcam');
    }
    expect(layers.map((l) => l.name)).not.toContain(g.input);
    const last = layers.find((l) => l.name === g.defaultLayer())!;
    expect(last.shape).toEqual([128, 12, 12]);
    expect(last.camReason).toBeNull();
    expect(last.methods).toContain('cam');
    // An earlier layer is not followed by GAP → linear: no CAM, and the reason says why.
    expect(layers[0].camReason).toMatch(/\S/);
    expect(layers[0].methods).not.toContain('cam');
  });

  it('fashion_deep: no layer has a GAP → linear head', () => {
    const layers = explainableLayers(graphOf('fashion_deep'));
    expect(layers.length).toBeGreaterThan(0);
    for (const l of layers) {
      expect(l.camReason).toMatch(/\S/);
      expect(l.methods).not.toContain('cam');
    }
  });
});
