/**
 * webgpu-cam in Node (the package's `node` condition): the whole library (src/index.ts), WebGPU
 * from Dawn's `webgpu` package, and image files: decodeImage() (PNG, JPEG) and encodePNG().
 *
 *   import { readFile } from 'node:fs/promises';
 *   import { Engine, loadOnnx, explain, preprocessImage, decodeImage } from 'webgpu-cam';
 *   const engine = await Engine.create();                 // needs `npm install webgpu`
 *   const image = decodeImage(await readFile('cat.jpg'));
 */
export * from './index';
export { decodeImage, encodePNG, imageFormat, type DecodedImage, type DecodeOptions } from './node/image';
