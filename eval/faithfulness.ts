/**
 * The faithfulness part of `npm run eval`: for every map method of a model (the guided methods,
 * gradients per channel, are left out), on the first scenes of the test split, with every class
 * present as a target, evaluate() (src/metrics/evaluate.ts, docs/METRICS.md):
 *   deletion, insertion   AUC of the softmax probability, `steps` steps, zero / blurred baseline
 *   Average Drop, IC      on x ⊙ map, and Win % of Grad-CAM++ against Grad-CAM
 *   ROAD                  mean probability over 10 … 90 % removed, most (MoRF) and least (LeRF)
 *                         relevant first, the removed pixels imputed (noise σ 0.01, seed 0), and
 *                         the combined (LeRF − MoRF)/2, on the first `roadScenes` scenes
 * All methods of a scene are explained in one call; their maps then go to evaluate() as tensors.
 */
import { applicableMethods, explain, type LayerMaps } from '../src/attribution/explain';
import { isInputGradient, isMultiPass, type Method } from '../src/methods/registry';
import type { Engine } from '../src/gpu/engine';
import { evaluate } from '../src/metrics/evaluate';
import { loadOnnx } from '../src/model/onnx';
import { preprocessImage } from '../src/ops/preprocess';
import { readFileSync } from 'node:fs';
import type { Split } from './dataset';
import { sceneBar } from './progress';

export interface FaithTally {
  /** Rows (scene–class pairs) of the confidence metrics, and their sums. */
  rows: number;
  drop: number;
  increases: number;
  /** Rows of the curves, and their AUC sums. */
  curveRows: number;
  deletion: number;
  insertion: number;
  /** Per confidence row, its drop (for Win %). */
  drops: number[];
  /** Rows of ROAD, and the sums of their mean MoRF and LeRF scores and of the combined value. */
  roadRows: number;
  morf: number;
  lerf: number;
  road: number;
}

export interface FaithResult {
  model: string;
  layer: string;
  confidenceScenes: number;
  curveScenes: number;
  steps: number;
  roadScenes: number;
  methods: Record<string, FaithTally>;
  msPerScene: number;
}

export interface FaithOptions {
  confidenceScenes: number;
  curveScenes: number;
  steps: number;
  roadScenes: number;
  /** Only these methods (of those applicable), when given. */
  methods?: readonly string[];
}

export async function faithfulnessModel(e: Engine, name: string, split: Split, o: FaithOptions): Promise<FaithResult> {
  const onnx = readFileSync(`weights/${name}.onnx`);
  const sidecar = JSON.parse(readFileSync(`weights/${name}.json`, 'utf8'));
  const { model, preprocessing } = await loadOnnx(e, onnx, { sidecar, name });
  if (!preprocessing) throw new Error(`weights/${name}.json gives no mean/std`);
  const layer = model.graph.defaultLayer();
  // The methods of many passes (Score-CAM, Ablation-CAM: one forward per channel; Smooth
  // Grad-CAM++: noisy copies) only when named in o.methods: with the curves' own batched forwards
  // they would dominate the run.
  const methods = applicableMethods(model.graph, layer).filter(
    (m) => !isInputGradient(m) && (o.methods ? o.methods.includes(m) : !isMultiPass(m)),
  ) as Method[];
  const tallies = Object.fromEntries(
    methods.map((m) => [
      m,
      {
        rows: 0,
        drop: 0,
        increases: 0,
        curveRows: 0,
        deletion: 0,
        insertion: 0,
        drops: [],
        roadRows: 0,
        morf: 0,
        lerf: 0,
        road: 0,
      },
    ]),
  ) as Record<string, FaithTally>;
  const [H, W] = preprocessing.inputSize;
  const scenes = Math.max(o.confidenceScenes, o.curveScenes, o.roadScenes);
  const bar = sceneBar(`${name.padEnd(14)} faithfulness`);
  bar.start(scenes, 0);
  const t0 = performance.now();
  try {
    for (let n = 0; n < scenes; n++) {
      const targets = split.meta.scenes[n].classes;
      const x = await preprocessImage(e, split.image(n), {
        size: [H, W],
        mean: preprocessing.mean as [number, number, number],
        std: preprocessing.std as [number, number, number],
      });
      const r = await explain(model, x, { methods, targets, layer });
      try {
        for (const m of methods) {
          const map = (r.maps[m] as LayerMaps).input;
          const t = tallies[m];
          if (n < o.confidenceScenes) {
            const d = await evaluate(model, x, { metric: 'average-drop', map, targets });
            for (const row of d.rows) {
              t.rows++;
              t.drop += row.value;
              t.drops.push(row.value);
              if (row.masked! > row.score!) t.increases++;
            }
          }
          if (n < o.curveScenes) {
            const del = await evaluate(model, x, {
              metric: 'deletion',
              map,
              targets,
              steps: o.steps,
              baseline: 'zero',
            });
            const ins = await evaluate(model, x, {
              metric: 'insertion',
              map,
              targets,
              steps: o.steps,
              baseline: 'blur',
            });
            t.curveRows += del.rows.length;
            t.deletion += del.rows.reduce((s, row) => s + row.value, 0);
            t.insertion += ins.rows.reduce((s, row) => s + row.value, 0);
          }
          if (n < o.roadScenes) {
            // One call gives both orders: the MoRF and LeRF curves and the combined value.
            const road = await evaluate(model, x, { metric: 'road', map, targets });
            const avg = (v: Float64Array) => v.reduce((a, b) => a + b, 0) / v.length;
            for (const row of road.rows) {
              t.roadRows++;
              t.morf += avg(row.morf!);
              t.lerf += avg(row.lerf!);
              t.road += row.value;
            }
          }
        }
      } finally {
        r.destroy();
        x.destroy();
      }
      bar.increment();
    }
  } finally {
    bar.stop();
    model.destroy();
  }
  return {
    model: name,
    layer,
    confidenceScenes: o.confidenceScenes,
    curveScenes: o.curveScenes,
    steps: o.steps,
    roadScenes: o.roadScenes,
    methods: tallies,
    msPerScene: (performance.now() - t0) / scenes,
  };
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');

/** Win %: the share of rows where A's drop is strictly smaller than B's. */
function win(a: FaithTally, b: FaithTally): number {
  let w = 0;
  a.drops.forEach((d, k) => (w += d < b.drops[k] ? 1 : 0));
  return (100 * w) / a.drops.length;
}

export function faithfulnessTable(r: FaithResult): string {
  const rows = Object.entries(r.methods).map(
    ([m, t]) =>
      `| ${m} | ${f(t.deletion / t.curveRows, 3)} | ${f(t.insertion / t.curveRows, 3)} | ${f(t.drop / t.rows, 2)} % | ${f((100 * t.increases) / t.rows, 1)} % |` +
      ` ${f(t.morf / t.roadRows, 3)} | ${f(t.lerf / t.roadRows, 3)} | ${f(t.road / t.roadRows, 3)} |`,
  );
  return [
    `| method | deletion AUC ↓ | insertion AUC ↑ | Average Drop ↓ | Increase in Confidence ↑ | ROAD MoRF ↓ | ROAD LeRF ↑ | ROAD (LeRF − MoRF)/2 ↑ |`,
    `|---|---|---|---|---|---|---|---|`,
    ...rows,
  ].join('\n');
}

/** Grad-CAM++ against Grad-CAM, as the Grad-CAM++ paper reports it, whichever way it falls. */
export function faithfulnessClaim(r: FaithResult): string {
  const a = r.methods['gradcam++'];
  const b = r.methods.gradcam;
  if (!a || !b || a.rows === 0) return '';
  const dropA = a.drop / a.rows;
  const dropB = b.drop / b.rows;
  const icA = (100 * a.increases) / a.rows;
  const icB = (100 * b.increases) / b.rows;
  const lower = dropA < dropB ? 'a lower' : dropA > dropB ? 'a higher' : 'the same';
  const higher = icA > icB ? 'a higher' : icA < icB ? 'a lower' : 'the same';
  const agrees = dropA < dropB && icA > icB;
  return (
    `On \`${r.model}\` (${a.rows} scene–class pairs), Grad-CAM++ has ${lower} Average Drop ${dropA === dropB ? 'as' : 'than'} Grad-CAM ` +
    `(${f(dropA, 2)} % vs ${f(dropB, 2)} %) and ${higher} Increase in Confidence ${icA === icB ? 'as' : 'than'} Grad-CAM (${f(icA, 1)} % vs ${f(icB, 1)} %); ` +
    `Grad-CAM++ wins (drops less) on ${f(win(a, b), 1)} % of the pairs, Grad-CAM on ${f(win(b, a), 1)} %. ` +
    `The Grad-CAM++ paper (VGG-16, ImageNet) reports 36.84 % vs 46.56 % drop and 17.05 % vs 13.42 % increase: ` +
    `${agrees ? 'our data agree in direction' : 'our data do not agree on both counts'}.`
  );
}
