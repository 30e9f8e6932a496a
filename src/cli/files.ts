/**
 * The CLI's inputs: the image files named on the command line or found in its folders, where
 * each one's outputs go, and the shard of them this run takes.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';

/** Extensions taken from folders (files named on the command line are taken whatever they are called). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

export interface InputFile {
  /** As found: the argument, or the folder argument joined with the path inside it. */
  path: string;
  /** Its outputs' names without extension, relative to --out: the name inside its folder argument, or the file's name. */
  key: string;
}

export interface Inputs {
  files: InputFile[];
  /** Arguments that could not be read (missing, unreadable): reported and counted as failed. */
  missing: { path: string; error: string }[];
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}

const stem = (p: string) => p.slice(0, p.length - extname(p).length);

/**
 * The image files of `args` (files, and folders searched recursively for .png, .jpg and .jpeg),
 * in the order given, each folder's files sorted by path; a file named twice is taken once.
 * Two inputs with the same output name get -2, -3, … appended.
 */
export async function collectInputs(args: readonly string[]): Promise<Inputs> {
  const files: InputFile[] = [];
  const missing: Inputs['missing'] = [];
  const seen = new Set<string>();
  const keys = new Set<string>();
  const add = (path: string, key: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    let k = key;
    for (let i = 2; keys.has(k); i++) k = `${key}-${i}`;
    keys.add(k);
    files.push({ path, key: k });
  };
  for (const arg of args) {
    try {
      const s = await stat(arg);
      if (s.isDirectory()) for (const p of await walk(arg)) add(p, stem(relative(arg, p)));
      else add(arg, stem(basename(arg)));
    } catch (e) {
      missing.push({ path: arg, error: (e as Error).message });
    }
  }
  return { files, missing };
}

/** `i/n` (1 ≤ i ≤ n) → [i, n]; null when malformed. */
export function parseShard(text: string): [number, number] | null {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return null;
  const i = Number(m[1]);
  const n = Number(m[2]);
  return n >= 1 && i >= 1 && i <= n ? [i, n] : null;
}

/**
 * Shard i of n: every n-th file from the i-th on (1-based), so the n shards of one file list are
 * disjoint, cover it, and differ in size by at most one file.
 */
export function shardOf<T>(items: readonly T[], [i, n]: [number, number]): T[] {
  return items.filter((_, k) => k % n === i - 1);
}
