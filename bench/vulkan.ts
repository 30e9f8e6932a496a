/**
 * Dawn in Node needs a Vulkan driver: on a machine without a GPU (hasGPU in
 * scripts/chromium.mjs) the benchmarks use the SwiftShader driver that Debian's chromium package
 * ships, as the tests do (test/setup.ts), unless VK_ICD_FILENAMES or VK_DRIVER_FILES is set.
 * Call before the first Engine.create().
 */
import { existsSync } from 'node:fs';
import { hasGPU } from '../scripts/chromium.mjs';

export const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function useSwiftShaderWithoutGPU(): void {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && !hasGPU() && existsSync(SWIFTSHADER)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  }
}
