/**
 * The protobuf wire format, read and written without a schema, for the ONNX fuzz test: a
 * message is a list of fields (number, wire type, value); a length-delimited field's bytes may
 * themselves be a message (ONNX nests GraphProto, NodeProto, TensorProto, … that way).
 * mutate() makes one seeded structural change: a bit flip, a truncation, two fields swapped, a
 * field dropped or repeated, a varint or a length replaced, in the message at a random depth.
 */

export interface Field {
  num: number;
  /** 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
  wire: number;
  /** varint: the value (as a bigint, 64 bits); other types: the raw bytes. */
  value: bigint | Uint8Array;
}

function readVarint(b: Uint8Array, pos: number): [bigint, number] | null {
  let v = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= b.length) return null;
    const byte = b[pos++];
    v |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [v, pos];
  }
  return null;
}

/** The fields of `b` as a message, or null when `b` is not one. */
export function parseMessage(b: Uint8Array): Field[] | null {
  const out: Field[] = [];
  let pos = 0;
  while (pos < b.length) {
    const key = readVarint(b, pos);
    if (!key) return null;
    pos = key[1];
    const num = Number(key[0] >> 3n);
    const wire = Number(key[0] & 7n);
    if (num < 1) return null;
    if (wire === 0) {
      const v = readVarint(b, pos);
      if (!v) return null;
      out.push({ num, wire, value: v[0] });
      pos = v[1];
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > b.length) return null;
      out.push({ num, wire, value: b.slice(pos, pos + n) });
      pos += n;
    } else if (wire === 2) {
      const len = readVarint(b, pos);
      if (!len || len[1] + Number(len[0]) > b.length) return null;
      const start = len[1];
      out.push({ num, wire, value: b.slice(start, start + Number(len[0])) });
      pos = start + Number(len[0]);
    } else {
      return null;
    }
  }
  return out;
}

function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x) byte |= 0x80;
    out.push(byte);
  } while (x);
  return out;
}

export function encodeMessage(fields: readonly Field[]): Uint8Array {
  const parts: number[] = [];
  for (const f of fields) {
    parts.push(...varint((BigInt(f.num) << 3n) | BigInt(f.wire)));
    if (f.wire === 0) parts.push(...varint(f.value as bigint));
    else if (f.wire === 2) {
      const v = f.value as Uint8Array;
      parts.push(...varint(BigInt(v.length)));
      for (const x of v) parts.push(x);
    } else for (const x of f.value as Uint8Array) parts.push(x);
  }
  return Uint8Array.from(parts);
}

export type Mutation =
  'bit-flip' | 'truncate' | 'swap-fields' | 'swap-values' | 'drop-field' | 'repeat-field' | 'varint' | 'length';

export const MUTATIONS: readonly Mutation[] = [
  'bit-flip',
  'truncate',
  'swap-fields',
  'swap-values',
  'drop-field',
  'repeat-field',
  'varint',
  'length',
];

/** Values a replaced varint takes: edges of every width the importer reads. */
const VARINTS = [0n, 1n, 2n, 3n, 7n, 255n, 65536n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 63n - 1n, -1n, -2n];

/**
 * One mutation of `bytes` (a valid message), chosen with `rand` (uniform in [0, 1)). Structural
 * mutations descend into a random chain of nested messages first and re-encode every level, so
 * the lengths around the change stay consistent.
 */
export function mutate(input: Uint8Array, kind: Mutation, rand: () => number): Uint8Array {
  // A plain copy: a Node Buffer's slice() is a view, and the bit flips below write in place.
  const bytes = Uint8Array.from(input);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  if (kind === 'bit-flip') {
    const out = bytes.slice();
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips; i++) {
      const at = Math.floor(rand() * out.length);
      out[at] ^= 1 << Math.floor(rand() * 8);
    }
    return out;
  }
  if (kind === 'truncate') return bytes.slice(0, Math.floor(rand() * bytes.length));

  // Descend: at each level, go into a nested message with probability 0.7.
  const chain: { fields: Field[]; index: number }[] = [];
  let fields = parseMessage(bytes)!;
  for (;;) {
    const nested = fields
      .map((f, i) => ({ f, i }))
      .filter(({ f }) => f.wire === 2 && (f.value as Uint8Array).length > 0 && parseMessage(f.value as Uint8Array));
    if (!nested.length || rand() >= 0.7) break;
    const { i } = pick(nested);
    chain.push({ fields, index: i });
    fields = parseMessage(fields[i].value as Uint8Array)!;
  }
  fields = fields.slice();
  const i = Math.floor(rand() * fields.length);
  const j = Math.floor(rand() * fields.length);
  switch (kind) {
    case 'swap-fields':
      [fields[i], fields[j]] = [fields[j], fields[i]];
      break;
    case 'swap-values': {
      // Two fields keep their numbers and exchange their contents (e.g. a node's inputs, two dims).
      const a = fields[i];
      const b = fields[j];
      fields[i] = { ...a, wire: b.wire, value: b.value };
      fields[j] = { ...b, wire: a.wire, value: a.value };
      break;
    }
    case 'drop-field':
      fields.splice(i, 1);
      break;
    case 'repeat-field':
      fields.splice(i, 0, fields[i]);
      break;
    case 'varint': {
      const ints = fields.map((f, k) => ({ f, k })).filter(({ f }) => f.wire === 0);
      if (ints.length) {
        const { f, k } = pick(ints);
        fields[k] = { ...f, value: pick(VARINTS) };
      } else if (fields.length) fields[i] = { ...fields[i], wire: 0, value: pick(VARINTS) };
      break;
    }
    case 'length': {
      // A length-delimited field's payload shortened or extended (zeros), as a bad length would read.
      const lds = fields.map((f, k) => ({ f, k })).filter(({ f }) => f.wire === 2);
      if (lds.length) {
        const { f, k } = pick(lds);
        const v = f.value as Uint8Array;
        const len = rand() < 0.5 ? Math.floor(rand() * v.length) : v.length + 1 + Math.floor(rand() * 16);
        const out = new Uint8Array(len);
        out.set(v.subarray(0, Math.min(len, v.length)));
        fields[k] = { ...f, value: out };
      }
      break;
    }
  }
  let encoded = encodeMessage(fields);
  for (let level = chain.length - 1; level >= 0; level--) {
    const { fields: parent, index } = chain[level];
    const copy = parent.slice();
    copy[index] = { ...copy[index], value: encoded };
    encoded = encodeMessage(copy);
  }
  return encoded;
}
