/**
 * The model randomisation test's weights (Adebayo et al. 2018, "Sanity Checks for Saliency
 * Maps", cascading randomisation): a GraphSpec with the weights of its last `count` weighted
 * nodes (convs and linear layers, in graph order, so from the output down) drawn again at
 * random. Each weight tensor is replaced by N(0, σ²) draws with σ its own standard deviation
 * (σ = 0.01 where it is constant), so that the scale of each layer is kept and only what it
 * learned is destroyed. Seeded: the same spec and seed give the same weights. Pure.
 */
import type { GraphSpec } from './spec';

/** The names of the weighted nodes, from the output down (the order the cascade randomises them). */
export function weightedNodesFromTop(spec: GraphSpec): string[] {
  return spec.nodes
    .filter((n) => n.weights && Object.keys(n.weights).length > 0)
    .map((n) => n.name)
    .reverse();
}

export function randomizeTopLayers(spec: GraphSpec, count: number, seed: number): GraphSpec {
  const chosen = new Set(weightedNodesFromTop(spec).slice(0, count));
  let s = (seed >>> 0) ^ 0x2545f491 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return {
    ...spec,
    nodes: spec.nodes.map((n) => {
      if (!chosen.has(n.name) || !n.weights) return n;
      const weights = Object.fromEntries(
        Object.entries(n.weights).map(([k, w]) => {
          const d = Array.from(w.data);
          const m = d.reduce((a, v) => a + v, 0) / d.length;
          const sd = Math.sqrt(d.reduce((a, v) => a + (v - m) ** 2, 0) / d.length) || 0.01;
          return [k, { shape: [...w.shape], data: Float32Array.from(d, () => sd * normal()) }];
        }),
      );
      return { ...n, weights };
    }),
  };
}
