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
/** One operator type a model uses that the importer has no rule for. */
export interface UnsupportedOperator {
  /** The ONNX op type, prefixed with its domain outside the default one ('com.microsoft.FusedConv'). */
  readonly opType: string;
  /** How many nodes use it. */
  readonly count: number;
  /** The first of them (its name, or '<OpType>_<position>' for an unnamed node). */
  readonly firstNode: string;
}

export class UnsupportedOperatorError extends WebGpuCamError {
  override name = 'UnsupportedOperatorError';
  /** The first missing operator's type and node (`operators` lists them all). */
  readonly opType: string;
  readonly nodeName: string;

  constructor(
    /** Every missing operator, in the order of their first node. */
    readonly operators: readonly UnsupportedOperator[],
    readonly supported: readonly string[],
  ) {
    const list = operators.map((o) => `'${o.opType}' ×${o.count} (first: node '${o.firstNode}')`);
    super(
      `unsupported operator${operators.length > 1 ? 's' : ''} ${list.join(', ')}; ` +
        `supported operators: ${supported.join(', ')}`,
    );
    this.opType = operators[0]?.opType ?? '';
    this.nodeName = operators[0]?.firstNode ?? '';
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

/**
 * A call was cancelled through its AbortSignal (explain()'s `signal`). Nothing of the call
 * stays behind, and the engine stays usable.
 */
export class AbortedError extends WebGpuCamError {
  override name = 'AbortedError';
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

/**
 * The GPU device is gone (destroyed, driver reset, GPU removed). Every call on an engine whose
 * device is lost rejects with this; `reason` is the device's ('destroyed' or 'unknown'). The
 * engine cannot be used again: make a new one with Engine.create() (models and tensors of the
 * old one are gone with it).
 */
export class DeviceLostError extends WebGpuCamError {
  override name = 'DeviceLostError';

  constructor(
    readonly reason: string,
    readonly detail: string,
    during?: string,
  ) {
    super(
      `the GPU device was lost (${reason}${detail ? `: ${detail}` : ''})${during ? ` during ${during}` : ''}; ` +
        'make a new engine with Engine.create()',
    );
  }
}

/**
 * Host data with NaN or ±Infinity where finite numbers are required (an uploaded tensor, a
 * model's weight). Names the tensor, how many values are not finite, and the first of them.
 */
export class NonFiniteError extends InvalidInputError {
  override name = 'NonFiniteError';

  constructor(
    readonly tensor: string,
    readonly count: number,
    /** Flat index of the first non-finite value, and that value. */
    readonly index: number,
    readonly value: number,
    /** Where the first one is, as an index per dimension, e.g. '[0, 2, 5, 7]'. */
    readonly at: string,
  ) {
    super(
      `${tensor}: ${count} value${count === 1 ? ' is' : 's are'} not finite (the first, ${value}, at ${at}); ` +
        'inputs and weights must be finite numbers',
    );
  }
}

/**
 * An image over the pixel budget (MAX_IMAGE_PIXELS in src/core/image.ts unless the caller sets
 * another), refused before it is decoded or uploaded.
 */
export class ImageTooLargeError extends ResourceLimitError {
  override name = 'ImageTooLargeError';

  constructor(
    readonly width: number,
    readonly height: number,
    readonly budget: number,
    what = 'image',
  ) {
    super(
      `${what} is ${width}×${height} = ${width * height} pixels, more than the budget of ${budget} pixels; ` +
        'scale it down first',
    );
  }
}
