/**
 * Node test setup. Dawn's Node binding needs a Vulkan driver; on a machine without a GPU the
 * SwiftShader driver that Debian's chromium package ships is used (set VK_ICD_FILENAMES yourself
 * to choose another driver).
 */
import { existsSync } from 'node:fs';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER)) {
  process.env.VK_ICD_FILENAMES = SWIFTSHADER;
}
