/**
 * Finding the system's Chrome/Chromium and the flags that give it a WebGPU adapter.
 * Used by scripts/ensure-chromium.mjs (run before `npm test`) and by the browser tests
 * (test/browser/browser.ts). Puppeteer's own browser download is never used (.puppeteerrc.cjs).
 */
import { accessSync, constants, readdirSync } from 'node:fs';

/** Where Debian/Ubuntu and Google's packages put the browser, in order of preference. */
export const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome-beta',
  '/opt/google/chrome/chrome',
  '/snap/bin/chromium',
];

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The browser to drive: $CHROME_PATH if set (it must exist), else the first candidate found.
 * Returns null when there is none.
 */
export function findChromium(env = process.env) {
  if (env.CHROME_PATH) {
    if (!isExecutable(env.CHROME_PATH)) {
      throw new Error(`CHROME_PATH is set to '${env.CHROME_PATH}', which is not an executable file`);
    }
    return env.CHROME_PATH;
  }
  return CANDIDATES.find(isExecutable) ?? null;
}

/** True when this process runs as root (Chromium's sandbox refuses to start as root). */
export function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * True when the machine shows a GPU device node (a DRM render node or an NVIDIA device). Without
 * one, Chromium's compositor must also run on SwiftShader, or a WebGPU canvas cannot be shared
 * with it: the GPU process drops the device at the first getCurrentTexture() ("Could not find
 * SharedImageBackingFactory").
 */
export function hasGPU() {
  try {
    if (readdirSync('/dev/dri').some((f) => f.startsWith('renderD'))) return true;
  } catch {
    // no /dev/dri
  }
  return exists('/dev/nvidia0');
}

function exists(path) {
  try {
    accessSync(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Command-line flags for headless Chromium with WebGPU. `--enable-unsafe-webgpu` is what
 * exposes WebGPU on Linux; with no GPU Chromium falls back to its SwiftShader (CPU) adapter.
 * `--enable-features=Vulkan` lets it use a real Vulkan driver where one exists; on a machine
 * without a GPU, `--use-vulkan=swiftshader --use-angle=swiftshader` put the compositor on
 * SwiftShader too, so WebGPU canvases work. Extra flags can be given in $CHROME_FLAGS (space
 * separated).
 */
export function chromiumArgs(userDataDir, env = process.env) {
  const args = [
    '--headless=new',
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--no-default-browser-check',
    `--user-data-dir=${userDataDir}`,
  ];
  if (isRoot()) args.push('--no-sandbox');
  if (!hasGPU()) args.push('--use-vulkan=swiftshader', '--use-angle=swiftshader');
  if (env.CHROME_FLAGS) args.push(...env.CHROME_FLAGS.split(/\s+/).filter(Boolean));
  return args;
}
