/**
 * How values cross between Node and the harness page (page.evaluate sends JSON): typed arrays
 * travel as base64 of their bytes, so float32 results arrive bit-exact (NaN, -0 and ±Infinity
 * included) and large arrays stay cheap. Used on both sides; needs only btoa/atob.
 */

type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Uint8ClampedArray;

const CTORS = {
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Uint8ClampedArray,
} as const;

type CtorName = keyof typeof CTORS;

interface Packed {
  __typed: CtorName;
  base64: string;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

function isPacked(x: object): x is Packed {
  return typeof (x as Packed).__typed === 'string' && typeof (x as Packed).base64 === 'string';
}

/** Replace every typed array inside `x` (arrays and plain objects, recursively) by a Packed record. */
export function encode(x: unknown): unknown {
  if (x === null || typeof x !== 'object') return x;
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    const name = x.constructor.name as CtorName;
    if (!(name in CTORS)) throw new Error(`wire: cannot send a ${name}`);
    return { __typed: name, base64: toBase64(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)) };
  }
  if (Array.isArray(x)) return x.map(encode);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = encode(v);
  return out;
}

/** Inverse of encode(). */
export function decode(x: unknown): unknown {
  if (x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) return x.map(decode);
  if (isPacked(x)) {
    const bytes = fromBase64(x.base64);
    const Ctor = CTORS[x.__typed];
    return new Ctor(bytes.buffer as ArrayBuffer, 0, bytes.byteLength / Ctor.BYTES_PER_ELEMENT) as TypedArray;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = decode(v);
  return out;
}
