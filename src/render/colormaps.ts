/**
 * Colormaps as 256-entry RGB lookup tables (LUTs), values in [0, 1], built from anchor colours by
 * linear interpolation. Entry i is the colour at x = i/255.
 *
 * - jet: MATLAB/matplotlib's piecewise-linear definition (matplotlib `_jet_data` breakpoints);
 *   jet(0) = (0, 0, 0.5) dark blue, jet(1) = (0.5, 0, 0) dark red.
 * - turbo: Google's Turbo (Anton Mikhailov, 2019, Apache-2.0), every 5th entry of the published
 *   256-entry sRGB table, i.e. 52 anchors at x = j/51.
 * - viridis: matplotlib's viridis (van der Walt & Smith, CC0), every 5th of its 256 entries.
 *   Interpolating every 5th entry reproduces both published tables within 0.7/255 per channel.
 * - grayscale: entry i = i/255 in every channel.
 * - bwr: matplotlib's diverging 'bwr', blue (0, 0, 1) → white → red (1, 0, 0), linear in
 *   between; for signed quantities scaled so that zero is at 0.5.
 *
 * Which entry a value v picks is the shaders' business (see shaders/overlay.wgsl): floor(v·256)
 * clamped to [0, 255], matplotlib's rule for an N-colour map.
 */
import { InvalidInputError } from '../core/errors';

export const COLORMAPS = ['turbo', 'jet', 'viridis', 'grayscale', 'bwr'] as const;
export type ColormapName = (typeof COLORMAPS)[number];

/** Entries in every LUT. */
export const LUT_SIZE = 256;

/** How a channel is scaled to [0, 1] for display: min–max, or signed around 0.5 (see normalizeChannels). */
export type ChannelScale = 'minmax' | 'signed';

type RGB = readonly [number, number, number];

// Google Turbo, published entries 0, 5, 10, …, 255.
// prettier-ignore
const TURBO: readonly RGB[] = [
  [0.18995, 0.07176, 0.23217], [0.21291, 0.12947, 0.37314], [0.23236, 0.18603, 0.50004],
  [0.24830, 0.24143, 0.61286], [0.26074, 0.29568, 0.71162], [0.26967, 0.34878, 0.79631],
  [0.27509, 0.40072, 0.86692], [0.27701, 0.45152, 0.92347], [0.27543, 0.50115, 0.96594],
  [0.26878, 0.54995, 0.99303], [0.24946, 0.59943, 0.99835], [0.22039, 0.64901, 0.98436],
  [0.18625, 0.69775, 0.95498], [0.15173, 0.74472, 0.91416], [0.12151, 0.78896, 0.86581],
  [0.10026, 0.82955, 0.81389], [0.09267, 0.86554, 0.76230], [0.10342, 0.89600, 0.71500],
  [0.13526, 0.92197, 0.66556], [0.18491, 0.94484, 0.60713], [0.24797, 0.96423, 0.54303],
  [0.32006, 0.97974, 0.47654], [0.39678, 0.99098, 0.41098], [0.47375, 0.99755, 0.34963],
  [0.54658, 0.99907, 0.29581], [0.61088, 0.99514, 0.25280], [0.66428, 0.98524, 0.22370],
  [0.71577, 0.96875, 0.20815], [0.76608, 0.94627, 0.20311], [0.81410, 0.91861, 0.20552],
  [0.85868, 0.88655, 0.21230], [0.89870, 0.85087, 0.22038], [0.93301, 0.81236, 0.22667],
  [0.96049, 0.77181, 0.22811], [0.98000, 0.73000, 0.22161], [0.99163, 0.68408, 0.20706],
  [0.99654, 0.63193, 0.18738], [0.99517, 0.57549, 0.16412], [0.98799, 0.51667, 0.13883],
  [0.97545, 0.45740, 0.11305], [0.95801, 0.39958, 0.08831], [0.93612, 0.34513, 0.06616],
  [0.91024, 0.29599, 0.04814], [0.88066, 0.25334, 0.03521], [0.84662, 0.21407, 0.02487],
  [0.80799, 0.17753, 0.01660], [0.76476, 0.14374, 0.01041], [0.71692, 0.11268, 0.00629],
  [0.66449, 0.08436, 0.00424], [0.60746, 0.05878, 0.00427], [0.54583, 0.03593, 0.00638],
  [0.47960, 0.01583, 0.01055],
];

// matplotlib viridis, published entries 0, 5, 10, …, 255.
// prettier-ignore
const VIRIDIS: readonly RGB[] = [
  [0.267004, 0.004874, 0.329415], [0.273809, 0.031497, 0.358853], [0.278791, 0.062145, 0.386592],
  [0.281924, 0.089666, 0.412415], [0.283197, 0.115680, 0.436115], [0.282623, 0.140926, 0.457517],
  [0.280255, 0.165693, 0.476498], [0.276194, 0.190074, 0.493001], [0.270595, 0.214069, 0.507052],
  [0.263663, 0.237631, 0.518762], [0.255645, 0.260703, 0.528312], [0.246811, 0.283237, 0.535941],
  [0.237441, 0.305202, 0.541921], [0.227802, 0.326594, 0.546532], [0.218130, 0.347432, 0.550038],
  [0.208623, 0.367752, 0.552675], [0.199430, 0.387607, 0.554642], [0.190631, 0.407061, 0.556089],
  [0.182256, 0.426184, 0.557120], [0.174274, 0.445044, 0.557792], [0.166617, 0.463708, 0.558119],
  [0.159194, 0.482237, 0.558073], [0.151918, 0.500685, 0.557587], [0.144759, 0.519093, 0.556572],
  [0.137770, 0.537492, 0.554906], [0.131172, 0.555899, 0.552459], [0.125394, 0.574318, 0.549086],
  [0.121148, 0.592739, 0.544641], [0.119423, 0.611141, 0.538982], [0.121380, 0.629492, 0.531973],
  [0.128087, 0.647749, 0.523491], [0.140210, 0.665859, 0.513427], [0.157851, 0.683765, 0.501686],
  [0.180653, 0.701402, 0.488189], [0.208030, 0.718701, 0.472873], [0.239374, 0.735588, 0.455688],
  [0.274149, 0.751988, 0.436601], [0.311925, 0.767822, 0.415586], [0.352360, 0.783011, 0.392636],
  [0.395174, 0.797475, 0.367757], [0.440137, 0.811138, 0.340967], [0.487026, 0.823929, 0.312321],
  [0.535621, 0.835785, 0.281908], [0.585678, 0.846661, 0.249897], [0.636902, 0.856542, 0.216620],
  [0.688944, 0.865448, 0.182725], [0.741388, 0.873449, 0.149561], [0.793760, 0.880678, 0.120005],
  [0.845561, 0.887322, 0.099702], [0.896320, 0.893616, 0.096335], [0.945636, 0.899815, 0.112838],
  [0.993248, 0.906157, 0.143936],
];

// matplotlib's `_bwr_data`: three evenly spaced anchors.
const BWR: readonly RGB[] = [
  [0, 0, 1],
  [1, 1, 1],
  [1, 0, 0],
];

/** One channel of a piecewise-linear map: (x, value) breakpoints, x increasing from 0 to 1. */
type Segments = readonly (readonly [number, number])[];

// matplotlib's `_jet_data`.
const JET: readonly [Segments, Segments, Segments] = [
  [
    [0, 0],
    [0.35, 0],
    [0.66, 1],
    [0.89, 1],
    [1, 0.5],
  ],
  [
    [0, 0],
    [0.125, 0],
    [0.375, 1],
    [0.64, 1],
    [0.91, 0],
    [1, 0],
  ],
  [
    [0, 0.5],
    [0.11, 1],
    [0.34, 1],
    [0.65, 0],
    [1, 0],
  ],
];

function piecewise(seg: Segments, x: number): number {
  for (let k = 1; k < seg.length; k++) {
    const [x1, y1] = seg[k];
    if (x <= x1) {
      const [x0, y0] = seg[k - 1];
      return y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return seg[seg.length - 1][1];
}

/** Anchors at evenly spaced x = j/(n−1); linear interpolation between neighbours. */
function evenlySpaced(anchors: readonly RGB[], x: number, c: number): number {
  const t = x * (anchors.length - 1);
  const j = Math.min(anchors.length - 2, Math.floor(t));
  const f = t - j;
  return anchors[j][c] * (1 - f) + anchors[j + 1][c] * f;
}

function colorAt(name: ColormapName, x: number, c: number): number {
  switch (name) {
    case 'turbo':
      return evenlySpaced(TURBO, x, c);
    case 'viridis':
      return evenlySpaced(VIRIDIS, x, c);
    case 'jet':
      return piecewise(JET[c], x);
    case 'grayscale':
      return x;
    case 'bwr':
      return evenlySpaced(BWR, x, c);
  }
}

export function isColormap(name: string): name is ColormapName {
  return (COLORMAPS as readonly string[]).includes(name);
}

/** Throws InvalidInputError naming the valid colormaps unless `name` is one. */
export function checkColormap(name: string, what = 'colormap'): ColormapName {
  if (!isColormap(name)) {
    throw new InvalidInputError(`${what}: unknown colormap '${name}'; valid colormaps: ${COLORMAPS.join(', ')}`);
  }
  return name;
}

/** The LUT of `name`: LUT_SIZE × 3 floats (r, g, b of entry 0, then entry 1, …), each in [0, 1]. */
export function colormapLUT(name: string): Float32Array {
  const cm = checkColormap(name, 'colormapLUT');
  const lut = new Float32Array(LUT_SIZE * 3);
  for (let i = 0; i < LUT_SIZE; i++) {
    const x = i / (LUT_SIZE - 1);
    for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.min(1, Math.max(0, colorAt(cm, x, c)));
  }
  return lut;
}
