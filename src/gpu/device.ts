/**
 * Device acquisition: navigator.gpu in a page, Dawn's Node binding (`webgpu` package) in Node,
 * or a GPUDevice the caller already has.
 */
import { WebGPUUnavailableError } from '../core/errors';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations such as SwiftShader (from adapter info or isFallbackAdapter). */
  isSoftware: boolean;
}

export interface DeviceRequest {
  powerPreference?: GPUPowerPreference;
  /** Ask for 'timestamp-query' when the adapter has it (default true). */
  timestamps?: boolean;
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

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = (adapter as { info?: GPUAdapterInfo }).info;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const text = `${vendor} ${architecture} ${device} ${description}`.toLowerCase();
  const fallback = !!(adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const isSoftware =
    fallback || /swiftshader|llvmpipe|lavapipe|software|warp|microsoft basic/.test(text) || text.trim() === '';
  return { vendor, architecture, device, description, isSoftware };
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
