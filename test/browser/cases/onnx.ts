/**
 * ONNX import in the page: models encoded by protobufjs from the ?raw schema (test/util/onnx_builder.ts),
 * decoded by the importer's static decoder; loadOnnx from bytes and from a URL.
 */
import { loadOnnx } from '../../../src/model/onnx';
import { smallNet } from '../../cases/onnx_nets';
import { defineCase } from '../registry';

defineCase('onnx-load', async (ctx, arg) => {
  const { x, viaUrl } = arg as { x: Float32Array; viaUrl: boolean };
  const e = await ctx.engine();
  const bytes = smallNet(); // encoded here, in the page, by protobufjs
  const url = viaUrl ? URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>])) : null;
  try {
    const { model, labels, spec } = await loadOnnx(e, url ?? bytes);
    try {
      const probs = await e.scope(async () => {
        const input = e.upload(x, [x.length / (3 * 9 * 9), 3, 9, 9], 'image');
        const acts = await model.forward(input);
        const out = await acts.output.read();
        acts.destroy();
        return out;
      });
      return { probs, labels, ops: spec.nodes.map((n) => n.op), bytes };
    } finally {
      model.destroy();
    }
  } finally {
    if (url) URL.revokeObjectURL(url);
  }
});
