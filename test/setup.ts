/**
 * Node test setup. Dawn's Node binding needs a Vulkan driver; on a machine without a GPU (no DRM
 * render node or NVIDIA device: hasGPU in scripts/chromium.mjs) the
 * SwiftShader driver that Debian's chromium package ships is used (set VK_ICD_FILENAMES yourself
 * to choose another driver).
 */
import { existsSync } from 'node:fs';
import { hasGPU } from '../scripts/chromium.mjs';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && !hasGPU() && existsSync(SWIFTSHADER)) {
  process.env.VK_ICD_FILENAMES = SWIFTSHADER;
}
