#!/usr/bin/env node
/**
 * Make sure Debian's /usr/bin/python3 can import PyTorch, torchvision and onnx: the ONNX import
 * tests (test/model/onnx.test.ts) export torchvision models with them at test time. When they are
 * missing, as root on Debian/Ubuntu, installs python3-torch, python3-torchvision and python3-onnx
 * with apt-get (and says so); anywhere else prints what to install and carries on, so that the
 * rest of the suite still runs (that test then fails with the same advice).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isRoot } from './chromium.mjs';

const PYTHON = '/usr/bin/python3';
const PACKAGES = ['python3-torch', 'python3-torchvision', 'python3-onnx'];

function importable() {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx'], { encoding: 'utf8' });
  if (r.status === 0) return null;
  return (r.stderr || r.error?.message || `exit status ${r.status}`).trim().split('\n').pop();
}

function run(cmd, args) {
  console.log(`ensure-pytorch: running: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

let why = importable();
if (why) {
  const debianLike = existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get');
  if (isRoot() && debianLike) {
    console.log(
      `ensure-pytorch: ${PYTHON} cannot import torch, torchvision and onnx (${why}); installing ${PACKAGES.join(' ')}`,
    );
    if (run('apt-get', ['update']) && run('apt-get', ['install', '-y', ...PACKAGES])) why = importable();
  }
}
if (why) {
  console.error(
    `ensure-pytorch: ${PYTHON} cannot import torch, torchvision and onnx (${why}).\n` +
      `The ONNX import tests need them. On Debian: sudo apt-get install -y ${PACKAGES.join(' ')}`,
  );
} else {
  console.log(`ensure-pytorch: ${PYTHON} has torch, torchvision and onnx`);
}
