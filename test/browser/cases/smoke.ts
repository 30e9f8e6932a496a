/** Smoke cases: WebGPU is there, and one kernel runs and reads back. */
import { unaryForward } from '../../../src/ops/elementwise';
import { defineCase } from '../registry';

/** What navigator.gpu offers, without going through the engine (for diagnosing a failure). */
defineCase('webgpu-info', async () => {
  if (!('gpu' in navigator)) return { gpu: false, secureContext: isSecureContext, adapter: null };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { gpu: true, secureContext: isSecureContext, adapter: null };
  const { vendor, architecture, device, description } = adapter.info;
  // The fallback flag moved from the adapter to adapter.info; report both.
  const flags = {
    adapterIsFallback: (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? null,
    infoIsFallback: (adapter.info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? null,
  };
  return {
    gpu: true,
    secureContext: isSecureContext,
    adapter: { vendor, architecture, device, description, ...flags },
  };
});

/** ReLU forward of `arg.x` on the page's engine; returns y, the adapter and the live tensor count after. */
defineCase('relu-forward', async (ctx, arg) => {
  const { x } = arg as { x: Float32Array };
  const e = await ctx.engine();
  const y = await e.scope(async () => {
    const t = e.upload(x, [x.length], 'x');
    return (await unaryForward(e, 'relu', t)).read();
  });
  return { y, adapter: e.adapter, liveTensors: e.liveTensors };
});
