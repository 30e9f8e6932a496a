/**
 * Seeded fuzzing of the ONNX importer: 500 mutants (bit flips, truncations, fields swapped,
 * dropped or repeated, varints and lengths replaced, at any depth of the protobuf: see
 * test/util/protowire.ts) of two valid models, the shipped weights/fashion_cam.onnx and the small
 * hand-built net of test/cases/onnx_nets.ts. Every mutant converts (onnxToGraphSpec) or fails
 * with a typed error (a WebGpuCamError), and none takes long; a sample of them goes through
 * loadOnnx onto the GPU and, when it loads, through explain(), whose maps are finite. The engine
 * holds nothing afterwards.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applicableMethods, explain } from '../../src/attribution/explain';
import { isPerturbation } from '../../src/methods/registry';
import { WebGpuCamError } from '../../src/core/errors';
import { loadOnnx, onnxToGraphSpec } from '../../src/model/onnx';
import { smallNet } from '../cases/onnx_nets';
import { getEngine } from '../util/gpu';
import { MUTATIONS, mutate } from '../util/protowire';
import { rng } from '../util/random';
import { expectFinite, held } from '../util/reliability';

const COUNT = 500;
/** Every GPU_SAMPLE-th mutant also goes through loadOnnx (and explain when it loads). */
const GPU_SAMPLE = 20;
/** The slowest conversion allowed: the valid files convert in a few milliseconds. */
const MAX_MS = 2000;

const BASES = {
  fashion_cam: new Uint8Array(readFileSync(fileURLToPath(new URL('../../weights/fashion_cam.onnx', import.meta.url)))),
  small: smallNet(),
};

interface Outcome {
  i: number;
  base: string;
  kind: string;
  ok: boolean;
  error: string;
  ms: number;
}

function mutant(i: number): { base: keyof typeof BASES; kind: string; bytes: Uint8Array } {
  const base = i % 2 === 0 ? 'small' : 'fashion_cam';
  const kind = MUTATIONS[Math.floor(i / 2) % MUTATIONS.length];
  return { base, kind, bytes: mutate(BASES[base], kind, rng(9000 + i)) };
}

describe('500 mutated ONNX files', () => {
  it('every mutant converts or fails with a typed error, quickly; a sample loads on the GPU or fails typed, and explains to finite maps', async () => {
    const e = await getEngine();
    const before = held(e);
    for (const [name, bytes] of Object.entries(BASES)) expect(() => onnxToGraphSpec(bytes), name).not.toThrow();

    const outcomes: Outcome[] = [];
    const untyped: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const { base, kind, bytes } = mutant(i);
      const t0 = performance.now();
      let ok = true;
      let error = '';
      try {
        onnxToGraphSpec(bytes);
      } catch (err) {
        ok = false;
        error = err instanceof WebGpuCamError ? err.name : `untyped ${String(err)}`;
        if (!(err instanceof WebGpuCamError)) untyped.push(`mutant ${i} (${base}, ${kind}): ${(err as Error).stack}`);
      }
      outcomes.push({ i, base, kind, ok, error, ms: performance.now() - t0 });
    }
    expect(untyped, 'mutants that failed with an untyped error').toEqual([]);
    const slow = outcomes.filter((o) => o.ms > MAX_MS);
    expect(slow.map((o) => `mutant ${o.i} (${o.base}, ${o.kind}): ${o.ms.toFixed(0)} ms`)).toEqual([]);

    // The catalogue is not vacuous: mutants both convert and fail, several error classes appear.
    const loaded = outcomes.filter((o) => o.ok).length;
    const byError = new Map<string, number>();
    for (const o of outcomes) if (!o.ok) byError.set(o.error, (byError.get(o.error) ?? 0) + 1);
    console.log(
      `onnx fuzz: ${loaded} of ${COUNT} mutants convert; failures by class: ${[...byError].map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
        `slowest ${Math.max(...outcomes.map((o) => o.ms)).toFixed(1)} ms`,
    );
    expect(loaded).toBeGreaterThan(20);
    expect(COUNT - loaded).toBeGreaterThan(100);
    expect(byError.size).toBeGreaterThanOrEqual(3);

    // A sample on the GPU: loadOnnx, and explain() with every applicable method when it loads.
    let gpuLoaded = 0;
    for (let i = 0; i < COUNT; i += GPU_SAMPLE) {
      const { base, kind, bytes } = mutant(i);
      const what = `mutant ${i} (${base}, ${kind})`;
      let model;
      try {
        ({ model } = await loadOnnx(e, bytes));
      } catch (err) {
        expect(err, `${what}: ${String(err)}`).toBeInstanceOf(WebGpuCamError);
        expect(outcomes[i].ok, `${what} converts without the GPU but fails loading: ${String(err)}`).toBe(false);
        continue;
      }
      gpuLoaded++;
      try {
        const [c, h, w] = model.inputShape;
        const x = e.upload(new Float32Array(c * h * w).fill(0.25), [1, c, h, w]);
        try {
          // Score-CAM and Ablation-CAM run K forwards each: on the small base only (fashion_cam's
          // 128 channels would take about a minute a mutant on a software adapter).
          const methods = applicableMethods(model.graph).filter((m) => base === 'small' || !isPerturbation(m));
          const r = await explain(model, x, { methods });
          for (const m of methods) {
            const maps = r.maps[m] as unknown as Record<string, { read(): Promise<Float32Array> }>;
            for (const [k, t] of Object.entries(maps)) expectFinite(await t.read(), `${what}: ${m}.${k}`);
          }
          r.destroy();
        } catch (err) {
          // A mutant may load and still be unfit to explain (e.g. no layer the scores depend on).
          expect(err, `${what}: explain: ${String(err)}`).toBeInstanceOf(WebGpuCamError);
        } finally {
          x.destroy();
        }
      } finally {
        model.destroy();
      }
    }
    expect(gpuLoaded, 'mutants of the sample that loaded on the GPU').toBeGreaterThan(0);
    const after = held(e);
    expect(after.tensors).toBe(before.tensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });
});
