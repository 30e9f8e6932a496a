/**
 * webgpu-cam's public API.
 *
 *   const engine = await Engine.create();            // navigator.gpu, Dawn in Node, or { device }
 *   const model = await Model.load(engine, spec);     // a GraphSpec (see src/model/spec.ts)
 *   // or: const { model, labels, preprocessing } = await loadOnnx(engine, bytesOrUrl, { sidecar });
 *   const x = engine.upload(pixels, [1, 3, H, W]);
 *   const r = await explain(model, x, { methods: ['gradcam', 'gradcam++'], targets: { topK: 5 } });
 *   await r.maps.gradcam!.input.read();                // [T, H, W], or draw it with overlay()
 */
export { Engine, type DeviceLoss, type EngineOptions, type EngineStats } from './gpu/engine';
export { Tensor } from './gpu/tensor';
export type { Shape } from './core/shape';
export type { AdapterDescription } from './gpu/device';
export {
  WebGpuCamError,
  WebGPUUnavailableError,
  InvalidInputError,
  ShapeMismatchError,
  ResourceLimitError,
  GraphError,
  UnsupportedOperatorError,
  type UnsupportedOperator,
  ModelFormatError,
  MethodNotApplicableError,
  ShaderError,
  GPUExecutionError,
  DeviceLostError,
  NonFiniteError,
  ImageTooLargeError,
  AbortedError,
} from './core/errors';
export { Model, Activations, type ForwardOptions, type BackwardOptions } from './model/model';
export type { GraphSpec, NodeSpec, OpType, WeightSpec, Conv2dAttrs, Pool2dAttrs } from './model/spec';
export { Graph } from './model/graph';
export type { Layer } from './model/graph';
export {
  loadOnnx,
  onnxToGraphSpec,
  parseSidecar,
  isMultiLabel,
  ONNX_OPS,
  type LoadedModel,
  type OnnxImport,
  type OnnxOptions,
  type OnnxSidecar,
  type FileSource,
  type Preprocessing,
} from './model/onnx';
export {
  explain,
  applicableMethods,
  explainableLayers,
  Explanation,
  type LayerInfo,
  type ExplainOptions,
  type Targets,
  SCORES,
  type Score,
  type LayerMaps,
  type ChannelMaps,
  type GuidedMaps,
  type ExplanationMaps,
  type LayerExplanation,
  type FusedMaps,
} from './attribution/explain';
export { METHODS, METHOD_REGISTRY, methodOf, type Method } from './methods/registry';
export { FUSIONS, LAYERCAM_GAMMA, isFusable, type Fusion } from './methods/fusion';
export type {
  MethodDescriptor,
  ChannelMethod,
  SpatialMethod,
  InputGradientMethod,
  InputSamples,
  EigenMethod,
  PerturbationMethod,
} from './methods/types';
export type { SmoothGradOptions, IntegratedGradientsOptions, SamplingOptions } from './methods/sampling';
export { checkSamplingOptions, MAX_SAMPLES } from './methods/sampling';
export { Recorder } from './gpu/recorder';
// The kernel choices per engine, for performance experiments (docs/BENCHMARKS.md).
export {
  conv2dConfig,
  setConv2dConfig,
  describeConv2dConfig,
  type Conv2dConfig,
  type Conv2dGemmTile,
} from './ops/conv2d';
export {
  reductionConfig,
  setReductionConfig,
  type ReductionConfig,
  type ChannelWeightsKernel,
} from './attribution/kernels';
export type { AdapterKind } from './gpu/device';
export { preprocessImage } from './ops/preprocess';
export {
  fitRegion,
  MAX_IMAGE_PIXELS,
  IMAGE_FORMATS,
  checkPixelBudget,
  readImageHeader,
  checkImageFile,
  type ImageInput,
  type ImageHeader,
  type ImageFormat,
  type PreprocessOptions,
  type Fit,
} from './core/image';
export * from './render/index';
export {
  evaluate,
  winPercent,
  maxBatch,
  METRICS,
  type Metric,
  type Baseline,
  type EvaluateOptions,
  type Evaluation,
  type EvaluationRow,
} from './metrics/evaluate';
export { cascadingRandomization, type SanityOptions, type SanityResult } from './metrics/sanity';
export { randomizeTopLayers, weightedNodesFromTop } from './model/randomize';
export { spearman } from './methods/rank';
