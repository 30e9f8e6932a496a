/** Whole-network and explain() cases: the same code the Node tests run, on the page's WebGPU. */
import { gpuExplain, type ExplainCase } from '../../cases/explain';
import { NETS } from '../../cases/nets';
import { gpuNetwork, type NetworkCase } from '../../cases/network';
import { defineCase } from '../registry';

defineCase('network', async (ctx, arg) => {
  const { net, c } = arg as { net: keyof typeof NETS; c: NetworkCase };
  const e = await ctx.engine();
  const result = await gpuNetwork(e, NETS[net](), c);
  return { ...result, liveTensors: e.liveTensors };
});

defineCase('explain', async (ctx, arg) => {
  const e = await ctx.engine();
  const result = await gpuExplain(e, arg as ExplainCase);
  return { ...result, liveTensors: e.liveTensors };
});
