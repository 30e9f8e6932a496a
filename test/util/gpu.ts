/**
 * One engine per test file, on whatever WebGPU adapter the machine has. Without one the suite
 * fails (Engine.create throws WebGPUUnavailableError with the reason); nothing is skipped.
 */
import { afterAll } from 'vitest';
import { Engine } from '../../src/gpu/engine';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import type { Tensor } from '../../src/gpu/tensor';

let engine: Promise<Engine> | null = null;

export function getEngine(): Promise<Engine> {
  if (!engine) {
    engine = Engine.create();
    afterAll(async () => {
      const e = await engine!;
      engine = null;
      e.destroy();
    });
  }
  return engine;
}

export async function toHost(t: Tensor): Promise<HostTensor> {
  return hostTensor(t.shape, await t.read());
}
