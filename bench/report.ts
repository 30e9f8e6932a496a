/**
 * Reading a benchmark result: the issue's targets (met or missed, by how much), and the
 * markdown section written into docs/BENCHMARKS.md.
 */
import type { E2EResult, Scenario } from './e2e';
import type { SuiteResult } from './suite';
import { TF_METHODS } from './tfjs';
import type { PerturbationResult } from './perturbation';

export interface BenchReport extends SuiteResult {
  date: string;
  mode: 'browser' | 'node';
  command: string;
  smoke: boolean;
  /** Load average of the machine running the CLI: other processes share the cores. */
  load?: { before: number; after: number; cores: number };
}

export interface Target {
  target: string;
  met: boolean | null;
  detail: string;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

/**
 * A markdown table of perturbation rows: the caller's leading columns (`lead`: headers; each
 * row's `cells`), then the result's. The suite's section below and bench:perturbation print it.
 */
export function perturbationTable(
  lead: readonly string[],
  rows: readonly { cells: readonly string[]; r: PerturbationResult }[],
): string[] {
  const head = [
    ...lead,
    ...['K', 'batch', 'ours ms', 'ms per channel', 'batched forwards ms', 'ratio'],
    ...['image forward ms', 'ratio to all forwards', 'peak MiB'],
  ];
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < lead.length ? '---' : '---:')).join('|')}|`,
    ...rows.map(({ cells, r }) => {
      const own = [r.channels, r.batchSize, f1(r.ours.wallMs), f2(r.msPerChannel), f1(r.forwards.wallMs)];
      const ratios = [`${f2(r.ratio)}×`, f1(r.imageForward.wallMs), `${f2(r.ratioAll)}×`, mib(r.peakBytes)];
      return `| ${[...cells, ...own, ...ratios].join(' | ')} |`;
    }),
  ];
}

export function targets(r: BenchReport): Target[] {
  const out: Target[] = [];
  const k = r.kernels ?? [];
  const conv3 = k.filter(
    (row) =>
      row.kernel === 'conv2d forward' &&
      row.impl === 'default' &&
      /^3×3 (\d+)→/.test(row.shape) &&
      !/ s2 /.test(row.shape),
  );
  const big = conv3.filter((row) => Number(/^3×3 (\d+)→/.exec(row.shape)![1]) >= 32);
  if (big.length) {
    const worst = big.reduce((a, b) => (b.gflops < a.gflops ? b : a));
    out.push({
      target: '3×3 conv forward, ≥ 32 channels: ≥ 2.0 GFLOP/s',
      met: worst.gflops >= 2,
      detail: `median, slowest ${worst.shape}: ${f2(worst.gflops)} GFLOP/s (all: ${big.map((x) => f2(x.gflops)).join(', ')}; best runs: ${big.map((x) => f2(x.bestGflops)).join(', ')})`,
    });
    const bw = k.filter(
      (row) =>
        row.kernel.startsWith('conv2d backward') && row.impl === 'default' && big.some((b) => b.shape === row.shape),
    );
    if (bw.length) {
      const w = bw.reduce((a, b) => ((b.vsForward ?? 0) > (a.vsForward ?? 0) ? b : a));
      out.push({
        target: 'backward-input within 1.5× of forward time (those convs)',
        met: (w.vsForward ?? Infinity) <= 1.5,
        detail: `medians, worst ${w.shape}: ${f2(w.vsForward ?? NaN)}× (all: ${bw.map((x) => f2(x.vsForward ?? NaN)).join(', ')}; best runs: ${bw.map((x) => f2(x.vsForwardBest ?? NaN)).join(', ')})`,
      });
    }
  }
  for (const e of r.e2e ?? []) {
    if (e.gradcam.speedup !== undefined) {
      out.push({
        target: `${e.model}: Grad-CAM end to end ≥ 5× faster than TF.js WebGPU`,
        met: e.gradcam.speedup >= 5,
        detail: `${f1(e.gradcam.tfjs!.wallMs)} ms vs ${f1(e.gradcam.ours.wallMs)} ms: ${f2(e.gradcam.speedup)}×${e.check && !e.check.ok ? ' (results differ!)' : ''}`,
      });
    }
    const ratio = e.all.ours.wallMs / e.forward.ours.wallMs;
    out.push({
      target: `${e.model}: all ${e.methods.length} methods for the top ${e.topK} ≤ 2× one forward`,
      met: ratio <= 2,
      detail: `${f1(e.all.ours.wallMs)} ms vs forward ${f1(e.forward.ours.wallMs)} ms: ${f2(ratio)}×`,
    });
    for (const p of e.perturbation ?? []) {
      out.push({
        target: `${e.model}: ${p.method} top ${p.topK} within 1.2× of its ${Math.ceil(p.channels / p.batchSize)} batched forwards`,
        met: p.ratio <= 1.2,
        detail: `${f1(p.ours.wallMs)} ms vs ${f1(p.forwards.wallMs)} ms: ${f2(p.ratio)}× (K = ${p.channels}, batch ${p.batchSize})`,
      });
      out.push({
        target: `${e.model}: ${p.method} top ${p.topK} within 1.2× of every forward it runs (the image's and the batched ones)`,
        met: p.ratioAll <= 1.2,
        detail: `${f1(p.ours.wallMs)} ms vs ${f1(p.imageForward.wallMs)} + ${f1(p.forwards.wallMs)} ms: ${f2(p.ratioAll)}×`,
      });
    }
    for (const [name, s, saved] of [
      ['Grad-CAM', e.gradcam, e.savedBytesGradcam],
      [`all methods, top ${e.topK}`, e.all, e.savedBytesAll],
    ] as [string, Scenario, number][]) {
      const base = e.weightBytes + saved;
      out.push({
        target: `${e.model}: peak GPU memory (${name}) ≤ 2× (weights + saved activations)`,
        met: s.peakBytes <= 2 * base,
        detail: `${mib(s.peakBytes)} MiB vs ${mib(e.weightBytes)} + ${mib(saved)} MiB: ${f2(s.peakBytes / base)}×`,
      });
    }
  }
  return out;
}

function scenarioRow(e: E2EResult, name: string, s: Scenario, saved: number | null): string {
  const tf = s.tfjs ? f1(s.tfjs.wallMs) : '–';
  const sp = s.speedup !== undefined ? `${f2(s.speedup)}×` : '–';
  const mem = `${mib(s.peakBytes)}${saved !== null ? ` (${f2(s.peakBytes / (e.weightBytes + saved))}×)` : ''}`;
  const gpu = s.ours.gpuMs !== null ? f1(s.ours.gpuMs) : '–';
  return `| ${e.model} | ${name} | ${f1(s.ours.wallMs)} | ${gpu} | ${tf} | ${sp} | ${mem} |`;
}

export function markdown(r: BenchReport): string {
  const L: string[] = [];
  L.push(`Measured ${r.date} with \`${r.command}\`${r.smoke ? ' (smoke run)' : ''}.`, '');
  L.push(`- Runtime: ${r.env.runtime}`);
  L.push(`- Adapter: ${r.env.adapter}${r.env.isSoftware ? ' (software)' : ''}`);
  L.push(
    `- GPU timestamps: ${r.env.timestamps ? 'yes (kernel times are GPU time)' : 'no (times are submit → done wall time)'}`,
  );
  const ai = r.env.adapterInfo;
  if (ai) {
    const field = (v: string) => v || '(empty)';
    L.push(
      `- Adapter info: vendor ${field(ai.vendor)}, architecture ${field(ai.architecture)}, device ${field(ai.device)}, description ${field(ai.description)}`,
    );
  }
  if (r.env.features) L.push(`- Features (${r.env.featuresOf ?? 'adapter'}): ${r.env.features.join(', ') || 'none'}`);
  if (r.env.limits) {
    const l = r.env.limits;
    const keys = [
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX',
      'maxComputeWorkgroupStorageSize',
      'maxComputeWorkgroupsPerDimension',
      'maxStorageBufferBindingSize',
      'maxBufferSize',
      'maxStorageBuffersPerShaderStage',
    ].filter((k) => k in l);
    L.push(
      `- Limits (${r.env.featuresOf ?? 'adapter'}; all in the JSON): ${keys.map((k) => `${k} ${l[k]}`).join(', ')}`,
    );
  }
  L.push(`- Conv kernels: ${r.env.convConfig}`);
  if (r.load)
    L.push(
      `- Machine load (1-min load average, ${r.load.cores} cores): ${r.load.before.toFixed(1)} before, ${r.load.after.toFixed(1)} after`,
    );
  if (r.ceiling) {
    L.push(`- Ceiling: FMA ${f2(r.ceiling.fmaGflops)} GFLOP/s, copy ${f2(r.ceiling.copyGBps)} GB/s (read + write)`);
  }
  L.push('');
  if (r.kernels?.length) {
    L.push(
      '| kernel | shape | implementation | median ms | GFLOP/s | best ms | best GFLOP/s | best ÷ FMA peak | ÷ forward |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const k of r.kernels) {
      const impl =
        k.impl === 'before' ? `${k.variant} (before)` : k.impl === 'other' ? `${k.variant} (other tiles)` : k.variant;
      L.push(
        `| ${k.kernel} | ${k.shape} | ${impl} | ${f2(k.ms)} | ${f2(k.gflops)} | ${f2(k.bestMs)} | ${f2(k.bestGflops)} | ${Number.isFinite(k.ofPeak) ? `${(100 * k.ofPeak).toFixed(0)}%` : '–'} | ${k.vsForward !== undefined ? `${f2(k.vsForward)}× (best ${f2(k.vsForwardBest ?? NaN)}×)` : ''} |`,
      );
    }
    L.push('');
  }
  if (r.e2e?.length) {
    L.push(
      '| network | run | ours ms | ours GPU ms | TF.js ms | speedup | peak MiB (÷ weights + saved) |',
      '|---|---|---:|---:|---:|---:|---:|',
    );
    for (const e of r.e2e) {
      L.push(scenarioRow(e, `forward (${f2(e.forwardGflop)} GFLOP)`, e.forward, null));
      L.push(scenarioRow(e, 'forward + Grad-CAM, top class', e.gradcam, e.savedBytesGradcam));
      L.push(
        scenarioRow(
          e,
          `${e.methods.length} methods, top ${e.topK} (TF.js: the ${TF_METHODS.length} it implements)`,
          e.all,
          e.savedBytesAll,
        ),
      );
    }
    L.push('');
    const pert = r.e2e.flatMap((e) => (e.perturbation ?? []).map((p) => ({ e, p })));
    if (pert.length) {
      L.push(
        ...perturbationTable(
          ['network', 'method, top 5'],
          pert.map(({ e, p }) => ({ cells: [e.model, p.method], r: p })),
        ),
      );
      L.push('');
    }
    const sampled = r.e2e.flatMap((e) => (e.sampled ?? []).map((p) => ({ e, p })));
    if (sampled.length) {
      L.push(
        '| network | sampled method, top 5 | copies per image | ours ms | ms per copy | peak MiB |',
        '|---|---|---:|---:|---:|---:|',
      );
      for (const { e, p } of sampled) {
        L.push(
          `| ${e.model} | ${p.method} | ${p.copies} | ${f1(p.ours.wallMs)} | ${f2(p.msPerCopy)} | ${mib(p.peakBytes)} |`,
        );
      }
      L.push('');
    }
    for (const e of r.e2e) {
      const w = `${e.model}: layer \`${e.layer}\`, weights ${mib(e.weightBytes)} MiB, saved activations ${mib(e.savedBytesGradcam)} MiB (Grad-CAM) / ${mib(e.savedBytesAll)} MiB (all methods)`;
      const c = e.tfjsError
        ? `TF.js failed: ${e.tfjsError}`
        : e.check
          ? `TF.js results ${e.check.ok ? 'equal' : 'DIFFER'} (max |Δ|: ${Object.entries(e.check.diffs)
              .map(([k, d]) => `${k} ${d.maxAbs.toExponential(1)}`)
              .join(', ')})${e.check.note ? `; ${e.check.note}` : ''}`
          : 'TF.js not run';
      L.push(`- ${w}. ${c}.`);
    }
    L.push('');
  }
  if (r.metrics?.length) {
    L.push(
      '| network | deletion curve | batched ms (forwards) | one image at a time ms (forwards) | speedup |',
      '|---|---|---:|---:|---:|',
    );
    for (const m of r.metrics) {
      L.push(
        `| ${m.model} [${m.input.join(', ')}] | ${m.steps} steps, ${m.images} images | ${f1(m.batched.wallMs)} (${m.batchedForwards}) | ${f1(m.single.wallMs)} (${m.singleForwards}) | ${f2(m.speedup)}× |`,
      );
    }
    L.push('');
  }
  const t = targets(r);
  if (t.length) {
    L.push('| target | met | measured |', '|---|---|---|');
    for (const x of t) L.push(`| ${x.target} | ${x.met === null ? '–' : x.met ? 'met' : '**missed**'} | ${x.detail} |`);
    L.push('');
  }
  return L.join('\n');
}

/** Replace (or append) the generated section for `mode` between its markers. */
export function updateDoc(doc: string, mode: string, section: string): string {
  const begin = `<!-- bench:${mode}:begin -->`;
  const end = `<!-- bench:${mode}:end -->`;
  const block = `${begin}\n${section.trim()}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}
