/**
 * Stands in for the `long` package in the library and demo builds (vite.lib.config.ts,
 * vite.config.ts alias `long` to this file). protobufjs uses long.js, when it can load it, for
 * 64-bit integers; long.js compiles a WebAssembly module as it loads, which a page whose
 * Content-Security-Policy lacks 'wasm-unsafe-eval' refuses (a violation report on every load).
 * Without it protobufjs reads int64 fields as JavaScript numbers, which is what the ONNX importer
 * turns them into anyway (toObject with longs: Number).
 */
export default null;
