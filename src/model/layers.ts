/**
 * Layers by name. A layer for attribution is a tensor of the graph, named by its tensor name or,
 * in a graph exported by torch.onnx (PyTorch 1.13 or later), by the module that produced it:
 * 'layer4', 'features.28', 'inception5b', 'trunk_output.block4'. A name that is both is a tensor
 * name first. Pure: no GPU. Graph.layer() and Graph.layers() (src/model/graph.ts) are built on it.
 *
 * Scopes. torch.onnx names every node after the module scope it was traced in:
 * '/layer4/layer4.1/relu_1/Relu' is a Relu in layer4 → layer4.1 → relu. Each component is that
 * module's path from its last non-numeric atom on ('layer4.1', 'features.18', 'conv.0.0'), so the
 * module's full path is the last atom of every component joined by dots. A module called again
 * gets '_1', '_2', … on its component ('relu_1': the second call of 'relu'); a component 'x_N' is
 * read as a call of module 'x' when 'x' has a scope of its own under the same parent, and as the
 * module 'x_N' otherwise (inception_v3 has modules 'branch5x5_1' and 'branch5x5_2' and no
 * 'branch5x5'). The last component is the node's own name ('Relu', 'Constant_1'); a node named
 * without a leading '/' has no scope.
 *
 * A module's output is the output of the last node, in graph order, that lies in its scope.
 * Nodes the importer folded into another (a BatchNormalization or a bias Add folded into the conv
 * or linear layer before it, NodeSpec.folded) count at the place of the node that absorbed them,
 * after it: the absorbing node then produces the output of the last folded node, and the outputs
 * of the others no longer exist. A module that ends in such a node has no tensor, and resolving
 * it says so and names the module whose output took its place.
 *
 * A model wrapped in an nn.Sequential (nn.Sequential(model, nn.Softmax(dim=1))) has its modules
 * under '0': 'features.19' names '0.features.19' when no module 'features.19' exists and only one
 * top-level numeric module holds one. Such names are listed without the wrapper.
 */
import leven from 'leven';
import { GraphError } from '../core/errors';

/** What layers are named from: each node of the graph, in graph order. */
export interface NamedNode {
  readonly name: string;
  readonly output: string;
  readonly folded?: readonly string[];
}

/** The last node of a module: its name and the tensor it produced (null: folded away). */
interface ModuleEnd {
  node: string;
  tensor: string | null;
  /** For a folded-away output: the node it was folded into and the node whose output is left. */
  foldedInto?: { node: string; last: string; tensor: string };
}

/** Split a node name into its module path (atoms), or null when it has no scope. */
export function scopeOf(nodeName: string): string[] | null {
  if (!nodeName.startsWith('/')) return null;
  const parts = nodeName.slice(1).split('/');
  return parts
    .slice(0, -1)
    .filter((c) => c !== '')
    .map((c) => c.slice(c.lastIndexOf('.') + 1));
}

const CALL = /^(.+)_(\d+)$/;
const NUMERIC = /^\d+$/;

/** The module scopes of a graph: each module's output tensor, and the modules of each tensor. */
export class ModuleScopes {
  /** Module path → its last node, in order of first appearance. */
  readonly #ends = new Map<string, ModuleEnd>();
  /** Module path → the name it is listed under (without a wrapper's '0.'). */
  readonly #display = new Map<string, string>();
  /** Tensor → the modules whose output it is, deepest first (display names). */
  readonly #byTensor = new Map<string, string[]>();
  /** Display name → module path. */
  readonly #byDisplay = new Map<string, string>();

  constructor(nodes: readonly NamedNode[]) {
    // Every name in order, with its tensor: a folded node's own output and those of all but the
    // last folded node are gone.
    const entries: { name: string; atoms: string[]; end: ModuleEnd }[] = [];
    for (const n of nodes) {
      const names = [n.name, ...(n.folded ?? [])];
      const last = names[names.length - 1];
      names.forEach((name, j) => {
        const atoms = scopeOf(name);
        if (!atoms || atoms.length === 0) return;
        const end: ModuleEnd =
          j === names.length - 1
            ? { node: name, tensor: n.output }
            : { node: name, tensor: null, foldedInto: { node: n.name, last, tensor: n.output } };
        entries.push({ name, atoms, end });
      });
    }
    const exact = new Set<string>();
    for (const { atoms } of entries) for (let i = 1; i <= atoms.length; i++) exact.add(atoms.slice(0, i).join('.'));
    for (const { atoms, end } of entries) {
      const path: string[] = [];
      for (const a of atoms) {
        const call = CALL.exec(a);
        path.push(call && exact.has([...path, call[1]].join('.')) ? call[1] : a);
        const key = path.join('.');
        this.#ends.delete(key); // keep the map in order of last appearance
        this.#ends.set(key, end);
      }
    }
    // Display names: without a top-level numeric wrapper when that name resolves back.
    for (const path of this.#ends.keys()) this.#display.set(path, path);
    for (const path of this.#ends.keys()) {
      const dot = path.indexOf('.');
      if (dot < 0 || !NUMERIC.test(path.slice(0, dot))) continue;
      const short = path.slice(dot + 1);
      let back: string | null = null;
      try {
        back = this.#lookup(short);
      } catch {
        // ambiguous: listed with its wrapper
      }
      if (back === path) this.#display.set(path, short);
    }
    for (const [path, d] of this.#display) this.#byDisplay.set(d, path);
    const depth = (p: string) => p.split('.').length;
    const paths = [...this.#ends.keys()].sort((a, b) => depth(b) - depth(a));
    for (const path of paths) {
      const t = this.#ends.get(path)!.tensor;
      if (t === null) continue;
      let list = this.#byTensor.get(t);
      if (!list) this.#byTensor.set(t, (list = []));
      list.push(this.#display.get(path)!);
    }
  }

  /** Whether any node has a module scope. */
  get scoped(): boolean {
    return this.#ends.size > 0;
  }

  /** Every module's name (as listed), in order of their outputs. */
  get names(): string[] {
    return [...this.#ends.keys()].map((p) => this.#display.get(p)!);
  }

  /** The modules whose output `tensor` is, deepest first (e.g. layer4.1.relu, layer4.1, layer4). */
  modulesOf(tensor: string): string[] {
    return this.#byTensor.get(tensor) ?? [];
  }

  /**
   * The tensor module `name` produced, or null when no module has that name. Throws GraphError
   * when the module's output was folded away, or when the name is ambiguous under wrappers.
   */
  tensorOf(name: string): string | null {
    const path = this.#byDisplay.get(name) ?? this.#lookup(name);
    if (path === null) return null;
    const end = this.#ends.get(path)!;
    if (end.tensor !== null) return end.tensor;
    const f = end.foldedInto!;
    const heir = this.modulesOf(f.tensor)[0];
    throw new GraphError(
      `module '${name}' ends in node '${end.node}', whose output was folded away: node '${f.last}' was folded ` +
        `into '${f.node}', which now produces '${f.tensor}'` +
        (heir ? `, the output of module '${heir}'` : '') +
        `; choose that layer`,
    );
  }

  /** A module path by exact path, or by its path under one top-level numeric wrapper. */
  #lookup(name: string): string | null {
    if (this.#ends.has(name)) return name;
    const wrapped = [...this.#ends.keys()].filter((p) => {
      const dot = p.indexOf('.');
      return dot > 0 && NUMERIC.test(p.slice(0, dot)) && p.slice(dot + 1) === name;
    });
    if (wrapped.length > 1) {
      throw new GraphError(`module '${name}' is ambiguous: ${wrapped.map((p) => `'${p}'`).join(', ')}`);
    }
    return wrapped[0] ?? null;
  }
}

/**
 * Up to `limit` names of `candidates` closest to `query`: first those that start with it, then
 * those that contain it (shorter first), then those within a small edit distance (Levenshtein,
 * at most max(2, a third of the query's length)), nearest first. Case-insensitive.
 */
export function closestNames(query: string, candidates: Iterable<string>, limit = 5): string[] {
  const q = query.toLowerCase();
  const maxDistance = Math.max(2, Math.floor(q.length / 3));
  const scored: { name: string; rank: number; score: number }[] = [];
  for (const name of new Set(candidates)) {
    const l = name.toLowerCase();
    if (l.startsWith(q)) scored.push({ name, rank: 0, score: l.length });
    else if (l.includes(q)) scored.push({ name, rank: 1, score: l.length });
    else {
      const d = leven(q, l, { maxDistance: maxDistance + 1 });
      if (d <= maxDistance) scored.push({ name, rank: 2, score: d });
    }
  }
  scored.sort((a, b) => a.rank - b.rank || a.score - b.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return scored.slice(0, limit).map((s) => s.name);
}
