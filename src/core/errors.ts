/**
 * Typed errors. Every error the engine throws on purpose is a WebGpuCamError; each names the
 * offending thing (tensor, node, kernel, operator) so the caller can show it, and none leaves
 * the engine unusable.
 *
 * Each class names itself (`name`) in a string, not from its class name, so that the names
 * survive minification (a minifier renames classes); test/core/errors.test.ts checks every one.
 */

export class WebGpuCamError extends Error {
  override name = 'WebGpuCamError';
}

/** No WebGPU implementation, no adapter, or no device could be had. */
export class WebGPUUnavailableError extends WebGpuCamError {
  override name = 'WebGPUUnavailableError';
}

/** Bad input from the caller: wrong rank, wrong shape, out-of-range value, unknown name. */
export class InvalidInputError extends WebGpuCamError {
  override name = 'InvalidInputError';
}

/** A weight or input whose shape does not fit the op it feeds. */
export class ShapeMismatchError extends InvalidInputError {
  override name = 'ShapeMismatchError';
}

/** A tensor larger than the device can bind (maxStorageBufferBindingSize / maxBufferSize). */
export class ResourceLimitError extends InvalidInputError {
  override name = 'ResourceLimitError';
}

/** A graph that is not well formed, or a request for a tensor that is not in it. */
export class GraphError extends InvalidInputError {
  override name = 'GraphError';
}

/** A model uses an operator the engine does not implement. */
export class UnsupportedOperatorError extends WebGpuCamError {
  override name = 'UnsupportedOperatorError';

  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly supported: readonly string[],
  ) {
    super(`unsupported operator '${opType}' (node '${nodeName}'); supported operators: ${supported.join(', ')}`);
  }
}

/**
 * A model file that cannot be read or converted: not an ONNX ModelProto (empty, truncated,
 * random bytes), no graph, or a node whose attributes or inputs the importer does not handle.
 * The message names the node or tensor.
 */
export class ModelFormatError extends InvalidInputError {
  override name = 'ModelFormatError';
}

/** An attribution method that cannot apply to this model (e.g. CAM without a GAP→linear head). */
export class MethodNotApplicableError extends InvalidInputError {
  override name = 'MethodNotApplicableError';
}

/** A shader failed to compile or a pipeline failed to build; carries the compiler's messages. */
export class ShaderError extends WebGpuCamError {
  override name = 'ShaderError';

  constructor(
    readonly kernel: string,
    readonly details: string,
  ) {
    super(`kernel '${kernel}': ${details}`);
  }
}

/** A GPU validation or out-of-memory error raised while recording or running work. */
export class GPUExecutionError extends WebGpuCamError {
  override name = 'GPUExecutionError';
}
