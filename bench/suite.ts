/**
 * The benchmark suite, the same in the page (headless Chromium) and in Node (Dawn): the ceiling,
 * the kernel table, and the end-to-end runs, on one Engine. The caller supplies how to read an
 * ONNX file and where progress goes; the result is plain JSON.
 */
import { Engine } from '../src/gpu/engine';
import { conv2dConfig, describeConv2dConfig } from '../src/ops/conv2d';
import { limitsRecord } from '../src/gpu/device';
import { onnxToGraphSpec } from '../src/model/onnx';
import type { GraphSpec } from '../src/model/spec';
import { endToEnd, type E2EResult } from './e2e';
import { CONV_SHAPES, SMOKE_SHAPES, ceiling, kernelTable, linearRows, type Ceiling, type KernelRow } from './micro';
import { metricsBench, type MetricsRow } from './metrics';
import { gap4, resnet18, tiny } from './nets';

export interface ModelEntry {
  /** 'gap4', 'resnet18', 'tiny' (built here), or a label for an ONNX file. */
  name: string;
  /** ONNX file to load (path in Node, URL in the page); else the built-in GraphSpec `name`. */
  onnx?: string;
  /** Run TF.js's all-methods scenario too (one tf.grad per class: slow on big networks). */
  tfAll: boolean;
  /** Timed repetitions for this network (default: the suite's). */
  reps?: number;
  /** Timed repetitions of its TF.js runs (default: the suite's). */
  tfReps?: number;
  /**
   * Run the methods of many passes (perturbation, sampled input gradients; default true); 'hardware' only on a hardware adapter (K
   * forwards of a large network take many minutes on a software one).
   */
  perturbation?: boolean | 'hardware';
}

export interface SuiteConfig {
  smoke: boolean;
  parts: ('ceiling' | 'kernels' | 'e2e' | 'metrics')[];
  warmup: number;
  reps: number;
  tfReps: number;
  tfjs: boolean;
  models: ModelEntry[];
}

export interface EnvInfo {
  runtime: string;
  adapter: string;
  isSoftware: boolean;
  timestamps: boolean;
  convConfig: string;
  /** The adapter's info fields (results recorded before these fields have only `adapter`). */
  adapterInfo?: { vendor: string; architecture: string; device: string; description: string };
  /** The adapter's features and limits; the device's where the adapter's are not known. */
  features?: string[];
  limits?: Record<string, number>;
  featuresOf?: 'adapter' | 'device';
}

export interface SuiteResult {
  env: EnvInfo;
  ceiling?: Ceiling;
  kernels?: KernelRow[];
  e2e?: E2EResult[];
  metrics?: MetricsRow[];
}

export interface Progress {
  done: number;
  total: number;
  label: string;
}

export interface SuiteIO {
  readBytes(path: string): Promise<Uint8Array>;
  progress(p: Progress): void;
  log(s: string): void;
  runtime: string;
}

function specFor(m: ModelEntry, bytes: Uint8Array | null): GraphSpec {
  if (bytes) return { ...onnxToGraphSpec(bytes).spec, name: m.name };
  if (m.name === 'gap4') return gap4();
  if (m.name === 'resnet18') return resnet18();
  if (m.name === 'tiny') return tiny();
  throw new Error(`unknown network '${m.name}' (gap4, resnet18, tiny, or an ONNX file)`);
}

/** Ticks each part will make, for the progress total (an estimate for the kernel table). */
function plannedTicks(cfg: SuiteConfig): number {
  let n = 0;
  if (cfg.parts.includes('ceiling')) n += 2 * (1 + (cfg.smoke ? 1 : 5));
  if (cfg.parts.includes('kernels')) n += ((cfg.smoke ? SMOKE_SHAPES : CONV_SHAPES).length * 6 + 2) * (1 + cfg.reps);
  if (cfg.parts.includes('e2e')) {
    for (const m of cfg.models) {
      n += (3 + (m.perturbation === false ? 0 : 8)) * (cfg.warmup + (m.reps ?? cfg.reps));
      if (cfg.tfjs) n += (m.tfAll ? 3 : 2) * (1 + (m.tfReps ?? cfg.tfReps));
    }
  }
  if (cfg.parts.includes('metrics')) n += metricModels(cfg).length * 2 * (cfg.warmup + cfg.reps);
  return n;
}

/** The networks of the metrics part: the shipped models (weights/), or the smoke run's network. */
function metricModels(cfg: SuiteConfig): ModelEntry[] {
  return cfg.smoke ? cfg.models : cfg.models.filter((m) => m.onnx?.startsWith('weights/'));
}

/** Steps of the benchmarked deletion curve. */
const METRIC_STEPS = 20;

export async function runSuite(cfg: SuiteConfig, io: SuiteIO): Promise<SuiteResult> {
  const e = await Engine.create();
  const total = plannedTicks(cfg);
  let done = 0;
  let label = 'starting';
  const tick = () => io.progress({ done: Math.min(++done, total), total, label });
  const step = (s: string) => {
    label = s;
    io.log(s);
    io.progress({ done, total, label });
  };
  try {
    const a = e.adapter;
    const c = conv2dConfig(e);
    const out: SuiteResult = {
      env: {
        runtime: io.runtime,
        adapter: [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / '),
        isSoftware: a.isSoftware,
        timestamps: e.hasTimestamps,
        convConfig: describeConv2dConfig(c),
        adapterInfo: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description },
        features: a.features ?? [...e.device.features].map(String).sort(),
        limits: a.limits ?? limitsRecord(e.device.limits),
        featuresOf: a.features ? 'adapter' : 'device',
      },
    };
    let peak = 0;
    if (cfg.parts.includes('ceiling')) {
      step('ceiling: FMA and copy kernels');
      out.ceiling = await ceiling(e, cfg.smoke, tick);
      peak = out.ceiling.fmaGflops;
    }
    if (cfg.parts.includes('kernels')) {
      step('kernels: convs forward and backward');
      const shapes = cfg.smoke ? SMOKE_SHAPES : CONV_SHAPES;
      out.kernels = await kernelTable(e, shapes, peak || NaN, cfg.reps, tick);
      out.kernels.push(...(await linearRows(e, peak || NaN, cfg.reps, tick)));
    }
    if (cfg.parts.includes('e2e')) {
      out.e2e = [];
      for (const m of cfg.models) {
        step(`end to end: ${m.name}`);
        const spec = specFor(m, m.onnx ? await io.readBytes(m.onnx) : null);
        if (m.perturbation === 'hardware' && e.adapter.isSoftware) {
          io.log(
            `${m.name}: Score-CAM, Ablation-CAM and the sampled input gradients left out on this software adapter (--perturbation-everywhere runs them)`,
          );
        }
        out.e2e.push(
          await endToEnd(
            e,
            spec,
            {
              warmup: cfg.warmup,
              reps: m.reps ?? cfg.reps,
              tfReps: m.tfReps ?? cfg.tfReps,
              tfAll: m.tfAll,
              tfjs: cfg.tfjs,
              topK: 5,
              perturbation: m.perturbation === 'hardware' ? !e.adapter.isSoftware : m.perturbation !== false,
            },
            tick,
            (s) => step(s),
          ),
        );
      }
    }
    if (cfg.parts.includes('metrics')) {
      out.metrics = [];
      for (const m of metricModels(cfg)) {
        step(`metrics: ${m.name}, a ${METRIC_STEPS}-step deletion curve, batched vs one image at a time`);
        const spec = specFor(m, m.onnx ? await io.readBytes(m.onnx) : null);
        out.metrics.push(
          await metricsBench(e, spec, { warmup: cfg.warmup, reps: cfg.reps, steps: METRIC_STEPS }, tick),
        );
      }
    }
    if (e.liveTensors !== 0) io.log(`warning: ${e.liveTensors} tensors left alive by the benchmark`);
    io.progress({ done: total, total, label: 'done' });
    return out;
  } finally {
    e.destroy();
  }
}
