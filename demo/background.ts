/**
 * Scene backgrounds as the training scenes have them (tools/fashion_scenes.py, background()):
 * plain, gradient, stripes, checker or smooth colour noise between two random colours,
 * deterministic from a seed.
 */

export type BackgroundKind = 'plain' | 'gradient' | 'stripes' | 'checker' | 'noise';

export interface Background {
  kind: BackgroundKind;
  seed: number;
}

export type RGB = [number, number, number];

/** mulberry32: small seeded generator, so a background is the same every time it is drawn. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** HSV in [0, 1] to RGB in [0, 1]. */
export function hsv(h: number, s: number, v: number): RGB {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  return (
    [
      [v, t, p],
      [q, v, p],
      [p, v, t],
      [p, q, v],
      [t, p, v],
      [v, p, q],
    ] as RGB[]
  )[i % 6];
}

/** The background drawn into a new canvas of (units·scale)² pixels; texture sizes are in units. */
export function renderBackground(bg: Background, units: number, scale: number): HTMLCanvasElement {
  const { kind, seed } = bg;
  const r = rng(seed);
  const c1 = hsv(r(), 0.8 * r(), 0.1 + 0.8 * r());
  const c2 = hsv(r(), 0.8 * r(), 0.1 + 0.8 * r());
  const N = units * scale;
  const theta = r() * 2 * Math.PI;
  const period = 5 + 19 * r();
  const phase = r() * 2 * Math.PI;
  const hard = r() < 0.5;
  const cell = 5 + 11 * r();
  const [ox, oy] = [r() * cell, r() * cell];
  const grid = 3 + Math.floor(r() * 10);
  const noise = Float32Array.from({ length: grid * grid }, () => r());
  const sample = (u: number, v: number): number => {
    // bilinear, half-pixel centres, clamped at the edges (PIL's resize of a grid×grid image)
    const fx = Math.min(grid - 1, Math.max(0, ((u + 0.5) / units) * grid - 0.5));
    const fy = Math.min(grid - 1, Math.max(0, ((v + 0.5) / units) * grid - 0.5));
    const x0 = Math.floor(fx);
    const y0 = Math.floor(fy);
    const x1 = Math.min(grid - 1, x0 + 1);
    const y1 = Math.min(grid - 1, y0 + 1);
    const ax = fx - x0;
    const ay = fy - y0;
    const at = (x: number, y: number) => noise[y * grid + x];
    return (1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) + ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1));
  };
  const span = units * (Math.abs(Math.cos(theta)) + Math.abs(Math.sin(theta)));
  const lo = Math.min(0, units * Math.cos(theta)) + Math.min(0, units * Math.sin(theta));
  const img = new ImageData(N, N);
  for (let py = 0; py < N; py++) {
    for (let px = 0; px < N; px++) {
      const u = (px + 0.5) / scale - 0.5;
      const v = (py + 0.5) / scale - 0.5;
      const proj = u * Math.cos(theta) + v * Math.sin(theta);
      let t = 0;
      if (kind === 'gradient') t = (proj - lo) / span;
      else if (kind === 'stripes') {
        t = 0.5 + 0.5 * Math.sin((2 * Math.PI * proj) / period + phase);
        if (hard) t = t > 0.5 ? 1 : 0;
      } else if (kind === 'checker') t = (Math.floor((u + ox) / cell) + Math.floor((v + oy) / cell)) % 2 ? 1 : 0;
      else if (kind === 'noise') t = sample(u, v);
      const o = (py * N + px) * 4;
      for (let j = 0; j < 3; j++) img.data[o + j] = 255 * (c1[j] * (1 - t) + c2[j] * t);
      img.data[o + 3] = 255;
    }
  }
  const c = document.createElement('canvas');
  c.width = N;
  c.height = N;
  c.getContext('2d', { willReadFrequently: true })!.putImageData(img, 0, 0);
  return c;
}
