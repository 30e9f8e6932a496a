#!/usr/bin/env node
/**
 * Make sure a Chrome/Chromium for the browser tests is installed. Prints the path when found.
 * Otherwise, as root on Debian/Ubuntu, installs the `chromium` package with apt-get (and says so);
 * anywhere else, prints what to install and exits with status 1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CANDIDATES, findChromium, isRoot } from './chromium.mjs';

function run(cmd, args) {
  console.log(`ensure-chromium: running: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) {
    console.error(`ensure-chromium: '${cmd} ${args.join(' ')}' failed (exit status ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

function help() {
  return [
    'The browser tests need Chrome or Chromium with WebGPU (version 113 or later). Install one of:',
    '  Debian:  sudo apt-get install -y chromium',
    '  Ubuntu:  sudo apt-get install -y chromium-browser   (or Google Chrome from https://www.google.com/chrome/)',
    `or set CHROME_PATH to the browser's executable. Looked in: ${CANDIDATES.join(', ')}`,
  ].join('\n');
}

let path;
try {
  path = findChromium();
} catch (e) {
  console.error(`ensure-chromium: ${e.message}`);
  process.exit(1);
}

if (!path) {
  const debianLike = existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get');
  if (isRoot() && debianLike) {
    console.log('ensure-chromium: no Chrome/Chromium found; installing the Debian package `chromium`');
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', 'chromium']);
    path = findChromium();
    if (!path) {
      console.error(`ensure-chromium: apt-get installed chromium but no browser was found.\n${help()}`);
      process.exit(1);
    }
  } else {
    console.error(`ensure-chromium: no Chrome/Chromium found.\n${help()}`);
    process.exit(1);
  }
}

console.log(`ensure-chromium: using ${path}`);
