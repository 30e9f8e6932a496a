/**
 * `npm run eval`: localization of every attribution method on the fashion-scenes test split,
 * with the engine on WebGPU (Dawn in Node). For each scene, every class present is a target, and
 * all targets of a scene are explained in one batched call. Metrics (src/metrics/localization.ts):
 *   pointing game      the map's maximum lies in a box of the target class
 *   energy             share of the map's mass inside the target class's boxes
 *   coverage           share of the target class's instances whose box holds ≥ `share` of the
 *                      map's peak (all instances, and only classes with ≥ 2 instances in the scene)
 * and, on the first scenes, the faithfulness metrics of every map method (eval/faithfulness.ts:
 * deletion, insertion, Average Drop, Increase in Confidence, Win %, ROAD).
 * Prints a table and writes it, with the settings, to docs/RESULTS.md (`--parts faithfulness`
 * alone replaces only the faithfulness section of the file).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { applicableMethods, explain } from '../src/attribution/explain';
import { isInputGradient, isMultiPass, methodOf, METHODS } from '../src/methods/registry';
import { Engine } from '../src/gpu/engine';
import { loadOnnx } from '../src/model/onnx';
import { preprocessImage } from '../src/ops/preprocess';
import { Split, type Box } from './dataset';
import { sceneBar } from './progress';
import { coveredInstances, energyInBoxes, gradientSaliency, pointingHit } from './metrics';
import { faithfulnessClaim, faithfulnessModel, faithfulnessTable, type FaithResult } from './faithfulness';

interface Tally {
  pairs: number;
  hits: number;
  energy: number;
  instances: number;
  covered: number;
  multiInstances: number;
  multiCovered: number;
}

export interface ModelResult {
  model: string;
  layer: string;
  methods: Record<string, Tally>;
  scenes: number;
  /** The explain() of the single-pass methods, per scene (ms, results on the CPU). */
  msPerScene: number;
  /** The scenes the methods of many passes ran on, and their explain() per scene (ms; null: not run). */
  multiPassScenes: number;
  msPerMultiPassScene: number | null;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function share(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('must be in (0, 1]');
  return n;
}

/** The generator's prerequisites are missing (and could not be installed): the message says what to install. */
class MissingDataError extends Error {
  override name = 'MissingDataError';
}

async function ensureSplit(dir: string, count: number): Promise<Split> {
  const meta = `${dir}/annotations.json`;
  const have = existsSync(meta) ? (JSON.parse(readFileSync(meta, 'utf8')) as { count: number }).count : 0;
  if (have < count) {
    // Like npm test's scripts/ensure-pytorch.mjs: install what the generator needs, or say what to install.
    const { ensureEvalData } = await import('../scripts/ensure-eval-data.mjs');
    const why = ensureEvalData();
    if (why) throw new MissingDataError(why);
    console.log(`generating the test split (${count} scenes) with tools/fashion_scenes.py …`);
    execFileSync(
      '/usr/bin/python3',
      ['tools/fashion_scenes.py', 'split', '--split', 'test', '--count', String(count), '--out', dir],
      {
        stdio: 'inherit',
      },
    );
  }
  return new Split(dir);
}

async function evaluateModel(
  e: Engine,
  name: string,
  split: Split,
  scenes: number,
  peakShare: number,
  multiPassScenes = scenes,
): Promise<ModelResult> {
  const onnx = readFileSync(`weights/${name}.onnx`);
  const sidecar = JSON.parse(readFileSync(`weights/${name}.json`, 'utf8'));
  const { model, preprocessing, labels } = await loadOnnx(e, onnx, { sidecar, name });
  if (!preprocessing) throw new Error(`weights/${name}.json gives no mean/std`);
  if (labels && labels.join() !== split.meta.labels.join())
    throw new Error(`${name}: labels differ from the dataset's`);
  const layer = model.graph.defaultLayer();
  // The methods of many passes (Score-CAM and Ablation-CAM: a forward per channel; SmoothGrad,
  // Integrated Gradients: 16–32 copies) run on the first --multi-pass-scenes scenes only.
  const methods = applicableMethods(model.graph, layer).filter((m) => multiPassScenes > 0 || !isMultiPass(m));
  const single = methods.filter((m) => !isMultiPass(m));
  const multi = methods.filter(isMultiPass);
  const tallies = Object.fromEntries(
    methods.map((m) => [
      m,
      { pairs: 0, hits: 0, energy: 0, instances: 0, covered: 0, multiInstances: 0, multiCovered: 0 },
    ]),
  ) as Record<string, Tally>;
  const [H, W] = preprocessing.inputSize;
  if (H !== split.meta.height || W !== split.meta.width) {
    throw new Error(
      `${name} takes ${H}×${W} inputs; the maps are compared with ${split.meta.height}×${split.meta.width} boxes`,
    );
  }
  const bar = sceneBar(name.padEnd(14));
  bar.start(scenes, 0);
  let singleMs = 0;
  let multiMs = 0;
  try {
    for (let n = 0; n < scenes; n++) {
      const scene = split.meta.scenes[n];
      const targets = scene.classes;
      const x = await preprocessImage(e, split.image(n), {
        size: [H, W],
        mean: preprocessing.mean as [number, number, number],
        std: preprocessing.std as [number, number, number],
      });
      const t1 = performance.now();
      const runs = [await explain(model, x, { methods: single, targets, layer })];
      await runs[0].classes.read();
      const t2 = performance.now();
      singleMs += t2 - t1;
      if (multi.length && n < multiPassScenes) {
        runs.push(await explain(model, x, { methods: multi, targets, layer }));
        await runs[1].classes.read();
        multiMs += performance.now() - t2;
      }
      for (const r of runs)
        for (const m of r.methods) {
          const data = await r.maps[m]!.input.read();
          targets.forEach((c, t) => {
            const map = isInputGradient(m)
              ? gradientSaliency(data, 3, H * W, t * 3 * H * W)
              : data.subarray(t * H * W, (t + 1) * H * W);
            const boxes: Box[] = scene.items.filter((it) => it.class === c).map((it) => it.box);
            const tally = tallies[m];
            tally.pairs++;
            if (pointingHit(map, W, boxes)) tally.hits++;
            tally.energy += energyInBoxes(map, W, boxes);
            const cov = coveredInstances(map, W, boxes, peakShare);
            tally.instances += cov.length;
            tally.covered += cov.filter(Boolean).length;
            if (cov.length >= 2) {
              tally.multiInstances += cov.length;
              tally.multiCovered += cov.filter(Boolean).length;
            }
          });
        }
      for (const r of runs) r.destroy();
      x.destroy();
      bar.increment();
    }
  } finally {
    bar.stop();
    model.destroy();
  }
  return {
    model: name,
    layer,
    methods: tallies,
    scenes,
    msPerScene: singleMs / scenes,
    multiPassScenes: multi.length ? Math.min(multiPassScenes, scenes) : 0,
    msPerMultiPassScene: multi.length && multiPassScenes > 0 ? multiMs / Math.min(multiPassScenes, scenes) : null,
  };
}

const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : '—');

export function resultsTable(r: ModelResult): string {
  const rows = Object.entries(r.methods).map(
    ([m, t]) =>
      `| ${m} | ${t.pairs} | ${pct(t.hits, t.pairs)} | ${pct(t.energy, t.pairs)} | ${pct(t.covered, t.instances)} | ${pct(t.multiCovered, t.multiInstances)} (${t.multiInstances}) |`,
  );
  return [
    `| method | scene–class pairs | pointing game | energy in boxes | instances covered | instances covered, classes with ≥ 2 instances (n) |`,
    `|---|---|---|---|---|---|`,
    ...rows,
  ].join('\n');
}

function claimSentence(r: ModelResult): string {
  const a = r.methods['gradcam++'];
  const b = r.methods.gradcam;
  if (!a || !b || a.multiInstances === 0) return '';
  const pa = a.multiCovered / a.multiInstances;
  const pb = b.multiCovered / b.multiInstances;
  const verdict =
    pa > pb ? 'covers more instances than' : pa < pb ? 'covers fewer instances than' : 'covers as many instances as';
  return `On \`${r.model}\`, Grad-CAM++ ${verdict} Grad-CAM where a class has several instances: ${(100 * pa).toFixed(1)} % against ${(100 * pb).toFixed(1)} % of ${a.multiInstances} instances.`;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('npm run eval --')
    .description('Localization evaluation of the attribution methods on the fashion-scenes test split')
    .option('--scenes <n>', 'test scenes to evaluate', positiveInt, 500)
    .option('--models <names>', 'comma-separated model names in weights/', 'fashion_cam,fashion_deep')
    .option('--data <dir>', 'the test split (generated when missing)', 'data/fashion-scenes/test')
    .option('--share <x>', "coverage: share of the map's peak a box must hold", share, 0.5)
    .option('--out <file>', 'markdown report', 'docs/RESULTS.md')
    .option('--json <file>', 'results as JSON', 'data/eval-results.json')
    .option('--parts <list>', 'comma-separated: localization, faithfulness', 'localization,faithfulness')
    .option(
      '--road-scenes <n>',
      'faithfulness: scenes for ROAD (18 imputed images per scene-class pair)',
      positiveInt,
      2,
    )
    .option(
      '--methods <names>',
      'faithfulness: only these comma-separated methods (default: every map method of one pass; the methods of many passes only when named here)',
    )
    .option(
      '--confidence-scenes <n>',
      'faithfulness: scenes for Average Drop and Increase in Confidence',
      positiveInt,
      100,
    )
    .option('--curve-scenes <n>', 'faithfulness: scenes for deletion and insertion', positiveInt, 10)
    .option('--steps <n>', 'faithfulness: steps of the deletion and insertion curves', positiveInt, 10)
    .option(
      '--multi-pass-scenes <n>',
      'localization: the scenes (the first n) for the methods of many passes (Score-CAM, Ablation-CAM: a forward per channel; SmoothGrad, Integrated Gradients: 16–32 copies; slow on a software adapter); 0 leaves them out (default: every scene)',
      nonNegativeInt,
    )
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
  const opts = program.opts<{
    scenes: number;
    models: string;
    data: string;
    share: number;
    out: string;
    json: string;
    parts: string;
    roadScenes: number;
    methods?: string;
    confidenceScenes: number;
    curveScenes: number;
    steps: number;
    multiPassScenes?: number;
  }>();
  const multiPassScenes = Math.min(opts.multiPassScenes ?? opts.scenes, opts.scenes);
  const parts = opts.parts.split(',').map((s) => s.trim());
  const bad = parts.filter((p) => p !== 'localization' && p !== 'faithfulness');
  if (bad.length || parts.length === 0) {
    console.error(`npm run eval: unknown part(s) ${bad.join(', ')} (localization, faithfulness)`);
    return 2;
  }
  const localization = parts.includes('localization');
  const faithfulness = parts.includes('faithfulness');
  const needed = Math.max(
    localization ? opts.scenes : 0,
    faithfulness ? Math.max(opts.confidenceScenes, opts.curveScenes, opts.roadScenes) : 0,
  );
  const SW = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SW))
    process.env.VK_ICD_FILENAMES = SW;

  let split: Split;
  try {
    split = await ensureSplit(opts.data, needed);
  } catch (e) {
    if (!(e instanceof MissingDataError)) throw e;
    console.error(`npm run eval: ${e.message}`);
    return 1;
  }
  if (split.count < needed) throw new Error(`the split has ${split.count} scenes, fewer than the ${needed} asked for`);
  const e = await Engine.create();
  const adapter =
    `${e.adapter.vendor} ${e.adapter.architecture} ${e.adapter.description}`.trim() +
    (e.adapter.isSoftware ? ' (software)' : '');
  console.log(`adapter: ${adapter}`);
  const results: ModelResult[] = [];
  const faith: FaithResult[] = [];
  const fopts = {
    confidenceScenes: opts.confidenceScenes,
    curveScenes: opts.curveScenes,
    steps: opts.steps,
    roadScenes: opts.roadScenes,
    methods: opts.methods?.split(',').map((s) => s.trim()),
  };
  try {
    for (const name of opts.models
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (localization) results.push(await evaluateModel(e, name, split, opts.scenes, opts.share, multiPassScenes));
      if (faithfulness) faith.push(await faithfulnessModel(e, name, split, fopts));
    }
  } finally {
    e.destroy();
  }

  const date = new Date().toISOString().slice(0, 10);
  const sections = results.map(
    (r) =>
      `## \`${r.model}\` (layer \`${r.layer}\`; explain() per scene: ${r.msPerScene.toFixed(0)} ms for the single-pass methods${r.msPerMultiPassScene !== null ? `, ${(r.msPerMultiPassScene / 1000).toFixed(1)} s for the methods of many passes` : ''})\n\n${resultsTable(r)}\n\n${claimSentence(r)}`,
  );
  const faithSection = faithfulness ? faithfulnessSection(faith, argv, date, adapter) : null;
  const md = `# Localization results

Measured with \`npm run eval -- --scenes ${opts.scenes}${opts.share !== 0.5 ? ` --share ${opts.share}` : ''}${multiPassScenes !== opts.scenes ? ` --multi-pass-scenes ${multiPassScenes}` : ''}\` on ${date}, with the engine on
WebGPU in Node (adapter: ${adapter}).

- Data: the first ${opts.scenes} scenes of the fashion-scenes **test** split (\`${split.meta.generator}\`, seed ${split.meta.seed};
  Fashion-MNIST t10k images 5000–9999, never seen in training). Every class present in a scene is a
  target (${results[0]?.methods.gradcam?.pairs ?? 0} scene–class pairs), all targets of a scene explained in one call.${
    multiPassScenes < opts.scenes
      ? `
  The methods of many passes (${METHODS.filter(isMultiPass)
    .map((m) => methodOf(m).label)
    .join(
      ', ',
    )}) ${multiPassScenes ? `on the first ${multiPassScenes} scenes only (their pairs column)` : 'left out'}: they take one forward pass per channel or 4–32
  copies of the input each.`
      : ''
  }
- Maps: the normalised map upsampled to the input (96×96); for the input-gradient methods (Guided
  Backprop, Guided Grad-CAM, Saliency, Gradient × Input, SmoothGrad, Integrated Gradients) the
  largest |value| over the three input channels. Boxes: each item's whole-mask box (occluded parts included).
- Pointing game: the map's maximum lies in a box of the target class. Energy: share of the map's
  mass inside the union of the target class's boxes. Coverage: share of the target class's
  instances whose box holds a value ≥ ${opts.share} × the map's peak; the last column counts only
  classes with two or more instances in the scene (n = instances), where the lecture says
  Grad-CAM++ should do better than Grad-CAM.
- The layer is each model's default (the last spatial layer before the pooling).
- Reading the numbers: the counterfactual map shows evidence *against* the target class, so it
  is expected to point away from the target's boxes. Energy and coverage pull in opposite
  directions: a diffuse map (Guided Backprop is not class-discriminative) reaches many boxes but
  puts less of its mass inside them.

${sections.join('\n\n')}
`;
  mkdirSync(dirname(opts.out), { recursive: true });
  const previous = existsSync(opts.out) ? readFileSync(opts.out, 'utf8') : '';
  const body = localization ? md : previous.slice(0, sectionBounds(previous)?.[0] ?? previous.length).trimEnd() + '\n';
  const old = sectionBounds(previous);
  const keptFaith = old ? previous.slice(old[0], old[1]) : null;
  const faithText = faithSection ?? keptFaith;
  writeFileSync(opts.out, faithText ? `${body.trimEnd()}\n\n${faithText}\n` : body);
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(
    opts.json,
    JSON.stringify({ date, adapter, scenes: opts.scenes, share: opts.share, results, faithfulness: faith }, null, 2),
  );
  if (localization) console.log('\n' + sections.join('\n\n'));
  if (faithSection) console.log('\n' + faithSection);
  console.log(`\nwrote ${opts.out} and ${opts.json}`);
  return 0;
}

const FAITH_BEGIN = '<!-- faithfulness:begin -->';
const FAITH_END = '<!-- faithfulness:end -->';

/** [start, end) of the faithfulness section (markers included) in a RESULTS.md, or null. */
function sectionBounds(doc: string): [number, number] | null {
  const i = doc.indexOf(FAITH_BEGIN);
  const j = doc.indexOf(FAITH_END);
  return i >= 0 && j > i ? [i, j + FAITH_END.length] : null;
}

function faithfulnessSection(faith: FaithResult[], argv: string[], date: string, adapter: string): string {
  const f0 = faith[0];
  const per = faith.map(
    (r) =>
      `### \`${r.model}\` (layer \`${r.layer}\`, ${(r.msPerScene / 1000).toFixed(1)} s per scene for all its methods)\n\n${faithfulnessTable(r)}\n\n${faithfulnessClaim(r)}`,
  );
  return `${FAITH_BEGIN}
# Faithfulness results

Measured with \`npm run eval${argv.length ? ` -- ${argv.join(' ')}` : ''}\` on ${date} (adapter: ${adapter}).

- Data: the first ${f0?.confidenceScenes ?? 0} test scenes for Average Drop and Increase in Confidence, the first
  ${f0?.curveScenes ?? 0} for deletion and insertion (${f0?.steps ?? 0} steps, ${(f0?.steps ?? 0) + 1} images per curve), the first
  ${f0?.roadScenes ?? 0} for ROAD; every class
  present in a scene is a target. Maps: each method's normalised map upsampled to the input (the guided
  methods, a gradient per channel, are left out).
- Score: the softmax probability of the target. Deletion: pixels set to zero (the normalisation's mean
  colour) in the map's order; insertion: pixels put back into a blurred copy (11 × 11 Gaussian, σ = 5);
  AUC by the trapezoid rule over [0, 1]. Average Drop: mean of max(0, Y − O)/Y on x ⊙ map; Increase in
  Confidence: share of pairs with O > Y. ROAD: the mean probability over 10, 20, …, 90 % of the pixels
  removed, most (MoRF) or least (LeRF) relevant first, and filled by noisy linear imputation (σ = 0.01,
  seed 0), and the combined (LeRF − MoRF)/2 (docs/METRICS.md).
- Reading the numbers: the counterfactual map shows evidence *against* the class, so it is expected
  to do worst here; CAM's map is signed (no ReLU) before normalisation. Where the layer is followed
  by a global average pool, the gradient is the same at every position, so Grad-CAM, XGrad-CAM and
  HiResCAM give the same normalised map. Win % counts strict wins: a pair where both maps keep or
  raise the confidence (a drop of 0 for both) is a tie.

${per.join('\n\n')}
${FAITH_END}`;
}
