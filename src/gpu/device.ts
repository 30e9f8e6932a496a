/**
 * Device acquisition: navigator.gpu in a page, Dawn's Node binding (`webgpu` package) in Node,
 * or a GPUDevice the caller already has.
 */
import { InvalidInputError, WebGPUUnavailableError } from '../core/errors';

/** 'software': a CPU implementation (SwiftShader, llvmpipe, WARP); 'hardware': anything else. */
export type AdapterKind = 'software' | 'hardware';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Which kernels suit the adapter; decided by adapterKind() or set by EngineOptions.adapterKind. */
  kind: AdapterKind;
  /** How `kind` was decided, e.g. 'isFallbackAdapter' or 'adapter info names SwiftShader'. */
  kindReason: string;
  /** kind === 'software' (kept for callers that test a boolean). */
  isSoftware: boolean;
  /** The adapter's features, sorted (absent when only a description or a device was given). */
  features?: string[];
  /** The adapter's limits by name (absent likewise). */
  limits?: Record<string, number>;
}

/** A GPUSupportedLimits (or anything with numeric fields) as a plain object, names sorted. */
export function limitsRecord(l: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  const keys: string[] = [];
  for (const k in l) keys.push(k);
  for (const k of keys.sort()) {
    const v = (l as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

export interface DeviceRequest {
  powerPreference?: GPUPowerPreference;
  /** Ask for 'timestamp-query' when the adapter has it (default true). */
  timestamps?: boolean;
  /**
   * Ask for 'subgroups' when the adapter has it (default true): the attribution reductions
   * (channel weights, min/max normalisation, top-k) then use subgroup operations
   * (src/attribution/kernels.ts, reductionConfig).
   */
  subgroups?: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: AdapterDescription;
}

/**
 * The Node binding's GPU instance. Kept for the life of the process: if it were garbage
 * collected while a device made from it lives, Dawn's event processing would run on a freed
 * instance (seen as a crash in InstanceBase::ProcessEvents).
 */
let nodeGPU: GPU | null = null;

async function getGPU(): Promise<GPU> {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) {
    throw new WebGPUUnavailableError(
      'this browser has no WebGPU (navigator.gpu is missing): use a recent Chrome, Edge or Firefox with WebGPU enabled, served over https or localhost',
    );
  }
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    // Dawn's Node binding. The module name is kept in a variable so bundlers leave it alone.
    const name = 'webgpu';
    mod = await import(/* @vite-ignore */ name);
  } catch (e) {
    throw new WebGPUUnavailableError(
      `WebGPU in Node needs the 'webgpu' package (npm install webgpu): ${(e as Error).message}`,
    );
  }
  if (!nodeGPU) {
    Object.assign(globalThis, mod.globals);
    nodeGPU = mod.create([]);
  }
  return nodeGPU;
}

/** The parts of a GPUAdapter that adapterKind() reads. */
export interface AdapterFacts {
  /** Older browsers and Dawn put the flag on the adapter, newer ones on adapter.info. */
  isFallbackAdapter?: boolean;
  info?: Partial<Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>> & {
    isFallbackAdapter?: boolean;
  };
}

/** Software renderers by the names their adapter info carries (lower case), and how to say them. */
const SOFTWARE_NAMES: [RegExp, string][] = [
  [/swiftshader/, 'SwiftShader'],
  [/llvmpipe/, 'llvmpipe'],
  [/lavapipe/, 'lavapipe'],
  [/\bwarp\b|microsoft basic/, 'WARP (Microsoft Basic Render Driver)'],
  [/software/, 'a software renderer'],
];

/**
 * Software or hardware, and why, in this order: `override` (EngineOptions.adapterKind); the
 * fallback flag (a fallback adapter is a CPU implementation); a software renderer's name in the
 * adapter info; otherwise hardware. Empty adapter info (browsers may hide it on a real GPU) is
 * taken as hardware: the hardware kernels are correct everywhere, only slower on a CPU, while
 * the software kernels would leave a GPU mostly idle.
 */
export function adapterKind(adapter: AdapterFacts, override?: AdapterKind): { kind: AdapterKind; reason: string } {
  if (override) {
    if (override !== 'software' && override !== 'hardware') {
      throw new InvalidInputError(`adapterKind must be 'software' or 'hardware', got '${String(override)}'`);
    }
    return { kind: override, reason: 'set by EngineOptions.adapterKind' };
  }
  if (adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter) {
    return { kind: 'software', reason: 'isFallbackAdapter' };
  }
  const i = adapter.info ?? {};
  const text = [i.vendor, i.architecture, i.device, i.description].join(' ').toLowerCase();
  for (const [re, name] of SOFTWARE_NAMES) {
    if (re.test(text)) return { kind: 'software', reason: `adapter info names ${name}` };
  }
  if (text.trim() === '') return { kind: 'hardware', reason: 'adapter info is empty: assumed hardware' };
  return { kind: 'hardware', reason: 'adapter info names no software renderer' };
}

export function describeAdapter(adapter: GPUAdapter | AdapterFacts, override?: AdapterKind): AdapterDescription {
  const info = (adapter as AdapterFacts).info;
  const { kind, reason } = adapterKind(adapter as AdapterFacts, override);
  const gpu = adapter as Partial<Pick<GPUAdapter, 'features' | 'limits'>>;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    kind,
    kindReason: reason,
    isSoftware: kind === 'software',
    ...(gpu.features ? { features: [...gpu.features].map(String).sort() } : {}),
    ...(gpu.limits ? { limits: limitsRecord(gpu.limits) } : {}),
  };
}

/**
 * The description an engine uses: of `adapter` (a GPUAdapter, or a description made earlier,
 * also one from before `kind` existed), or of an unknown adapter behind a caller's device
 * (hardware); `override` (EngineOptions.adapterKind) replaces the kind.
 */
export function engineAdapter(
  adapter: AdapterDescription | GPUAdapter | undefined,
  override?: AdapterKind,
): AdapterDescription {
  let d: AdapterDescription;
  if (!adapter) {
    d = {
      vendor: '',
      architecture: '',
      device: '',
      description: 'caller-provided device',
      kind: 'hardware',
      kindReason: 'caller-provided device without its adapter: assumed hardware',
      isSoftware: false,
    };
  } else if ('isSoftware' in adapter) {
    const kind = adapter.kind ?? (adapter.isSoftware ? 'software' : 'hardware');
    d = {
      ...adapter,
      kind,
      kindReason: adapter.kindReason ?? 'given in EngineOptions.adapter',
      isSoftware: kind === 'software',
    };
  } else {
    d = describeAdapter(adapter);
  }
  if (!override) return d;
  const { kind, reason } = adapterKind({}, override);
  return { ...d, kind, kindReason: reason, isSoftware: kind === 'software' };
}

export async function acquireDevice(req: DeviceRequest = {}): Promise<AcquiredDevice> {
  const gpu = await getGPU();
  const adapter = await gpu.requestAdapter({ powerPreference: req.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError(
      'navigator.gpu.requestAdapter() returned no adapter: WebGPU is present but no GPU (or software fallback) is available. ' +
        'In Chromium pass --enable-unsafe-webgpu; in Node on a machine without a GPU set VK_ICD_FILENAMES to a Vulkan ICD such as /usr/lib/chromium/vk_swiftshader_icd.json',
    );
  }
  const features: GPUFeatureName[] = [];
  if (req.timestamps !== false && adapter.features.has('timestamp-query')) features.push('timestamp-query');
  if (req.subgroups !== false && adapter.features.has('subgroups')) features.push('subgroups');
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    },
  });
  if (!device) throw new WebGPUUnavailableError('adapter.requestDevice() returned no device');
  return { device, adapter: describeAdapter(adapter) };
}
