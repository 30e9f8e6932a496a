/**
 * The benchmarks' ResNet-18 ONNX export (random weights, BatchNorm folded) at 224×224, made once
 * with Debian's PyTorch (tools/export_bench_resnet18.py) into bench/.cache/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const RESNET_ONNX = 'bench/.cache/resnet18_224.onnx';

/** The export's path relative to the repository, exported first if missing and allowed; null if it cannot be had. */
export function resnetOnnx(allowExport: boolean, log: (s: string) => void): string | null {
  if (existsSync(join(REPO, RESNET_ONNX))) return RESNET_ONNX;
  if (!allowExport) return null;
  try {
    log(`exporting ResNet-18 to ${RESNET_ONNX} (tools/export_bench_resnet18.py)…`);
    execFileSync('/usr/bin/python3', [join(REPO, 'tools/export_bench_resnet18.py'), join(REPO, RESNET_ONNX)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    return RESNET_ONNX;
  } catch (e) {
    log(`could not export ResNet-18 (${(e as Error).message.split('\n')[0]})`);
    return null;
  }
}
