/**
 * Rendering attribution maps: colormaps, the overlay onto an image, a signed input gradient
 * (Guided Backprop, Guided Grad-CAM) as RGB, drawing into a canvas.
 */
export { COLORMAPS, LUT_SIZE, colormapLUT, isColormap, type ColormapName } from './colormaps';
export { overlay, readRGBA, type OverlayOptions } from './overlay';
export { canvasRowStride, drawToCanvas } from './canvas';
export { guidedRGBA } from './display';
