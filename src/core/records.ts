/** Small helpers for the registries' tables. */

/** A record with the same keys as `o`, each value made by `f` from its key. */
export function mapKeys<K extends string, V, R>(o: Readonly<Record<K, V>>, f: (k: K) => R): Record<K, R> {
  return Object.fromEntries(Object.keys(o).map((k) => [k, f(k as K)])) as Record<K, R>;
}

/** A saved forward tensor a backward implementation reads; a missing one is a bug in its op's `saves`. */
export function saved<T>(t: T | null, what: string): T {
  if (t === null) throw new Error(`unreachable: the ${what} was not saved for the backward pass`);
  return t;
}
