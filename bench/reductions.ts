/**
 * `npm run bench:reductions [-- --reps N]`: the attribution reductions' kernel variants on this
 * machine's adapter, each at the shapes of the benchmark networks' explanations for the top 5
 * classes: the channel weights of the four gradient channel methods ('serial', 'reduce',
 * 'subgroup'), cam_combine's weighted sums with the min/max normalisation (workgroup tree
 * against subgroups), Eigen-Grad-CAM's centring, Gram matrix, power iteration (up to 300
 * iterations) and projection at the smaller layers (workgroup tree against subgroups), and top-k
 * over 1000 classes (loop against subgroups). GPU time of the
 * dispatch (timestamp queries) where the device has them, else wall time; median and best of
 * `reps` runs after one warm-up. The subgroup variants need the device's 'subgroups' feature.
 *
 * Run through scripts/run-ts.mjs (Vite's SSR loader: TypeScript and `?raw` shader imports).
 */
import { channelWeights, combineMaps, eigenMaps, topkClasses } from '../src/attribution/kernels';
import { Engine } from '../src/gpu/engine';
import { channelMethod, isChannel, METHODS, type ChannelMethodName } from '../src/methods/registry';
import { useSwiftShaderWithoutGPU } from './vulkan';
import { measure } from './measure';
import { benchRandn } from './nets';

export async function main(argv: string[]): Promise<number> {
  const i = argv.indexOf('--reps');
  const reps = i >= 0 ? Number(argv[i + 1]) : 7;
  useSwiftShaderWithoutGPU();
  const e = await Engine.create();
  const hasSg = e.device.features.has('subgroups');
  const a = e.adapter;
  console.log(`Adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')} (${a.kind})`);
  console.log(`subgroups: ${hasSg ? 'yes' : 'no'}; GPU timestamps: ${e.hasTimestamps ? 'yes' : 'no'}\n`);
  const rows: string[] = ['| reduction | shape | variant | median ms | best ms |', '|---|---|---|---:|---:|'];
  const time = async (run: () => Promise<void>) => {
    const m = await measure(
      e,
      async () => {
        await run();
        await e.flush();
      },
      { warmup: 1, reps },
    );
    return { med: m.gpuMs ?? m.wallMs, best: m.minGpuMs ?? m.minMs };
  };
  const row = (what: string, shape: string, variant: string, t: { med: number; best: number }) =>
    rows.push(`| ${what} | ${shape} | ${variant} | ${t.med.toFixed(2)} | ${t.best.toFixed(2)} |`);
  const methods = METHODS.filter(isChannel).filter(
    (m) => channelMethod(m).source === 'gradients',
  ) as ChannelMethodName[];
  // [label, N, K, h, w], T = 5 targets: gap4's layer, ResNet-18's at 224², a shipped model's.
  const layers: [string, number, number, number, number][] = [
    ['gap4: 256 × 12×12', 1, 256, 12, 12],
    ['resnet18: 512 × 7×7', 1, 512, 7, 7],
    ['fashion_cam: 128 × 12×12', 1, 128, 12, 12],
  ];
  try {
    for (const [label, N, K, h, w] of layers) {
      const T = 5;
      await e.scope(async () => {
        const A = e.upload(benchRandn(N * K * h * w, 1, 1).map(Math.abs), [N, K, h, w]);
        const G = e.upload(benchRandn(T * N * K * h * w, 2, 0.01), [T * N, K, h, w]);
        const weights = e.empty([methods.length, T * N, K]);
        for (const kernel of ['serial', 'reduce', ...(hasSg ? ['subgroup' as const] : [])] as const) {
          const t = await time(() => channelWeights(e, A, G, weights, methods, { kernel }));
          row(`channel weights (${methods.length} methods)`, `T=5, ${label}`, kernel, t);
        }
        for (const subgroups of hasSg ? [false, true] : [false]) {
          const t = await time(async () => {
            const r = await combineMaps(e, A, weights, 0b0111, { subgroups });
            r.raw.destroy();
            r.norm.destroy();
          });
          row('cam_combine', `${methods.length}×T=5 maps, ${label}`, subgroups ? 'subgroup' : 'workgroup tree', t);
        }
        if (K * h * w <= 512 * 49) {
          for (const subgroups of hasSg ? [false, true] : [false]) {
            const t = await time(async () => {
              const r = await eigenMaps(e, A, G, ['eigengradcam'], T * N, { subgroups });
              for (const x of [r.raw, r.norm, ...r.info]) x.destroy();
            });
            row(
              'Eigen-Grad-CAM (power iteration, projection)',
              `T=5, ${label}`,
              subgroups ? 'subgroup' : 'workgroup tree',
              t,
            );
          }
        }
      });
    }
    await e.scope(async () => {
      const scores = e.upload(benchRandn(4 * 1000, 3, 1), [4, 1000]);
      for (const subgroups of hasSg ? [false, true] : [false]) {
        const t = await time(async () => (await topkClasses(e, scores, 5, { subgroups })).destroy());
        row('top-k', 'N=4, K=1000, T=5', subgroups ? 'subgroup' : 'loop', t);
      }
    });
  } finally {
    e.destroy();
  }
  console.log(rows.join('\n'));
  return 0;
}
