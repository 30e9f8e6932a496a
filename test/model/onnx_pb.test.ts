/**
 * The committed ONNX decoder (src/model/onnx_pb.js and .d.ts) is what scripts/gen-onnx-pb.mjs
 * generates from src/model/onnx.proto today, so an edit of the schema without `npm run proto`
 * fails here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

it('src/model/onnx_pb.js and onnx_pb.d.ts are up to date with onnx.proto', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-cam-onnx-pb-'));
  try {
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/gen-onnx-pb.mjs'), dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['onnx_pb.js', 'onnx_pb.d.ts']) {
      const fresh = readFileSync(join(dir, f), 'utf8');
      expect(readFileSync(join(REPO, 'src/model', f), 'utf8') === fresh, `${f} differs: run npm run proto`).toBe(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
