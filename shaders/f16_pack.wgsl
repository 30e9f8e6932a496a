// f16_pack: float32 values stored as IEEE binary16, two per 32-bit word (the f16 weight storage).
//
//   words[i] = pack2x16float(vec2f(src[2i], src[2i + 1]))   (bits 0–15: src[2i], 16–31: src[2i + 1])
//
// Readers take value j back as unpack2x16float(words[j / 2])[j % 2], in f32. WGSL leaves the
// direction of an inexact conversion to the implementation (either neighbouring half), so a
// stored value's relative error is at most 2^-10 (2^-11 where it rounds to nearest); magnitudes
// above 65504 have no half and are refused on the host before this runs (Model.load).
//
// Layout: src [count] float32 (any shape, flat); words [ceil(count / 2)].
// Threads: one invocation per word, index (wg.y · nwg.x + wg.x) · WG + lid.x.
// Edges: invocations past the last word return; an odd count's last word has 0 as its upper half.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> words: array<u32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (2u * i >= p.count) {
    return;
  }
  let hi = select(0.0, src[min(2u * i + 1u, p.count - 1u)], 2u * i + 1u < p.count);
  words[i] = pack2x16float(vec2f(src[2u * i], hi));
}
