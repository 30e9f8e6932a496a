/**
 * The conv kernel configurations an engine can hold (conv2dConfig / setConv2dConfig), for
 * describe.each: every test suite that compares convs with the reference runs under each one, on
 * whatever adapter the machine has (SwiftShader here), so the GPU's choice is tested on a CPU too.
 */
import { afterAll, beforeAll } from 'vitest';
import { conv2dConfig, GEMM_TILE, setConv2dConfig, type Conv2dConfig } from '../../src/ops/conv2d';
import { getEngine } from './gpu';

export interface ConvConfigCase {
  name: string;
  config: Omit<Conv2dConfig, 'reason'>;
}

/** What conv2dConfig() picks on a software adapter (SwiftShader). */
export const SOFTWARE_CONV: ConvConfigCase['config'] = { tiled: true, co: 8, wg: 32, gemm: null };
/** What conv2dConfig() picks on a GPU: the implicit-GEMM kernel, the tiled ones where it does not apply. */
export const HARDWARE_CONV: ConvConfigCase['config'] = { tiled: true, co: 4, wg: 64, gemm: { ...GEMM_TILE } };
/** Without the tiled kernels: 'direct' forward, 'gather' backward. */
export const UNTILED_CONV: ConvConfigCase['config'] = { tiled: false, co: 4, wg: 64, gemm: null };

export const CONV_CONFIGS: ConvConfigCase[] = [
  { name: 'software adapters (tiled, co 8, wg 32)', config: SOFTWARE_CONV },
  { name: 'GPUs (implicit GEMM 32×32×16; tiled, co 4, wg 64 for the rest)', config: HARDWARE_CONV },
  { name: 'untiled (direct forward, gather backward)', config: UNTILED_CONV },
];

/** In the enclosing describe: the shared engine holds `config` for its tests, restored after. */
export function useConvConfig(config: Omit<Conv2dConfig, 'reason'>): void {
  let saved: Conv2dConfig | null = null;
  beforeAll(async () => {
    const e = await getEngine();
    saved = { ...conv2dConfig(e) };
    setConv2dConfig(e, config);
  });
  afterAll(async () => {
    if (saved) setConv2dConfig(await getEngine(), saved);
  });
}
