/**
 * Genotypes: validation against the search space, the concatenated output of a cell, a canonical
 * form, and a hash that is equal for equal networks.
 *
 * Canonical form (what {@link genotypeHash} hashes):
 * 1. `concat` is made explicit (the default is every state no block reads) and sorted: the order of
 *    the output concatenation only permutes channels, which the next layer (a 1×1 conv in the next
 *    cell, or global pooling + the classifier) absorbs, so the networks are equivalent.
 * 2. Each block's two (input, op) branches are sorted by (input, op index). For `add` the networks
 *    are identical; for `concat` they are equivalent up to a channel permutation (same argument).
 * 3. Blocks are renumbered in a canonical topological order: at each step the available block with
 *    the smallest encoding (ties only between identical blocks, broken by their structural class):
 *    two cells that differ only in the numbering of independent blocks hash the same. Polynomial in
 *    the number of blocks (the search space allows any B; 1,000 blocks take well under a second).
 *    The one known gap: identical blocks that colour refinement cannot tell apart although the cell
 *    has no symmetry swapping them (e.g. six identical blocks read pairwise, around a ring, by six
 *    identical blocks) may hash differently under two numberings: such a child is then trained twice.
 *    Two different cells never share a hash (the canonical form is a renumbering of the cell itself).
 * The hash is the sha256 hex digest of the canonical JSON (fixed key order).
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.js';
import type { BlockGenotype, CellGenotype, Genotype } from './genotype-types.js';
import { isOpName } from './ops.js';
import { CELL_INPUTS, COMBINE_METHODS, type CombineMethod, type OpName, PRIMITIVES } from './space.js';

/** Which cell of a genotype. */
export type CellKind = 'normal' | 'reduction';

/** The two cells, in the order they are validated, encoded and drawn. */
export const CELL_KINDS: readonly CellKind[] = ['normal', 'reduction'];

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return JSON.stringify(v).slice(0, 80);
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The states a cell concatenates into its output: `cell.concat` when given, else every state
 * (0 = h_i, 1 = h_{i-1}, 2 + k = block k) that no block reads, in index order.
 * @param cell a valid cell genotype
 * @returns state indices
 * @example resolveConcat(NASNET_A.normal) // [1, 2, 3, 4, 5, 6]
 */
export function resolveConcat(cell: CellGenotype): number[] {
  if (cell.concat) return [...cell.concat];
  const used = new Set<number>();
  for (const b of cell.blocks) for (const i of b.inputs) used.add(i);
  const out: number[] = [];
  for (let s = 0; s < cell.blocks.length + CELL_INPUTS; s++) if (!used.has(s)) out.push(s);
  return out;
}

/**
 * Width of a cell's output in units of its filter count F: every concatenated state contributes F
 * channels (a cell input is brought to F channels first; an `add` block outputs F), or 2F for a
 * `concat` block. The penultimate layer of a network with two reductions is `4 × width × F` wide:
 * NASNet-A's normal cell concatenates 6 states, hence the paper's P = 24 F.
 * @param cell a valid cell genotype
 * @example cellOutputWidth(NASNET_A.normal) // 6
 */
export function cellOutputWidth(cell: CellGenotype): number {
  const width = (s: number): number => (s < CELL_INPUTS ? 1 : cell.blocks[s - CELL_INPUTS]!.combine === 'concat' ? 2 : 1);
  return resolveConcat(cell).reduce((sum, s) => sum + width(s), 0);
}

function validateCell(v: unknown, kind: CellKind): CellGenotype {
  if (!isObject(v)) throw new ValidationError(`${kind} cell: expected an object with 'blocks' but received ${describe(v)}`);
  const blocks = v.blocks;
  if (!Array.isArray(blocks) || blocks.length === 0) {
    throw new ValidationError(`${kind} cell: 'blocks' must be a non-empty array but received ${describe(blocks)}`);
  }
  const out: BlockGenotype[] = [];
  blocks.forEach((b: unknown, k: number) => {
    const where = `${kind} block ${k}`;
    if (!isObject(b)) throw new ValidationError(`${where}: expected an object but received ${describe(b)}`);
    const { inputs, ops, combine } = b;
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new ValidationError(`${where}: 'inputs' must be an array of 2 state indices but received ${describe(inputs)}`);
    }
    if (!Array.isArray(ops) || ops.length !== 2) {
      throw new ValidationError(`${where}: 'ops' must be an array of 2 op names but received ${describe(ops)}`);
    }
    const max = k + CELL_INPUTS - 1;
    inputs.forEach((i: unknown, j: number) => {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i > max) {
        throw new ValidationError(`${where}: inputs[${j}] = ${describe(i)} but block ${k} may only read states 0..${max}`);
      }
    });
    ops.forEach((o: unknown, j: number) => {
      if (!isOpName(o)) {
        throw new ValidationError(`${where}: ops[${j}] = ${describe(o)} is not an op of the search space (${PRIMITIVES.join(', ')})`);
      }
    });
    if (!(COMBINE_METHODS as readonly unknown[]).includes(combine)) {
      throw new ValidationError(`${where}: combine = ${describe(combine)} but expected one of ${COMBINE_METHODS.join(', ')}`);
    }
    out.push({
      inputs: [inputs[0] as number, inputs[1] as number],
      ops: [ops[0] as OpName, ops[1] as OpName],
      combine: combine as CombineMethod,
    });
  });
  const states = out.length + CELL_INPUTS;
  let concat: number[] | undefined;
  if (v.concat !== undefined) {
    if (!Array.isArray(v.concat) || v.concat.length === 0) {
      throw new ValidationError(`${kind} cell: 'concat' must be a non-empty array of state indices but received ${describe(v.concat)}`);
    }
    const seen = new Set<number>();
    v.concat.forEach((s: unknown, j: number) => {
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s >= states) {
        throw new ValidationError(`${kind} cell: concat[${j}] = ${describe(s)} but the cell has states 0..${states - 1}`);
      }
      if (seen.has(s)) throw new ValidationError(`${kind} cell: concat[${j}] = ${s} is listed twice`);
      seen.add(s);
    });
    concat = [...(v.concat as number[])];
  }
  const cell: CellGenotype = concat ? { blocks: out, concat } : { blocks: out };
  // Never empty: no block reads the last block, so the default concat holds at least that one.
  const outputs = new Set(resolveConcat(cell));
  const read = new Set<number>();
  for (const b of out) for (const i of b.inputs) read.add(i);
  out.forEach((_, k) => {
    if (!read.has(k + CELL_INPUTS) && !outputs.has(k + CELL_INPUTS)) {
      throw new ValidationError(`${kind} block ${k}: its output (state ${k + CELL_INPUTS}) is neither read by a later block nor in concat`);
    }
  });
  return cell;
}

/**
 * Checks that `value` is a genotype of the search space and returns a clean copy.
 * @param value anything (parsed JSON, a literal)
 * @returns the genotype, with only the known fields
 * @throws ValidationError naming the cell, block and field, e.g.
 *   `reduction block 3: inputs[1] = 6 but block 3 may only read states 0..4`
 * @example validateGenotype(NASNET_A)
 */
export function validateGenotype(value: unknown): Genotype {
  if (!isObject(value)) throw new ValidationError(`genotype: expected an object with 'normal' and 'reduction' but received ${describe(value)}`);
  return { normal: validateCell(value.normal, 'normal'), reduction: validateCell(value.reduction, 'reduction') };
}

/**
 * Parses a genotype from JSON text or an already parsed object, then validates it.
 * @param json JSON text or object
 * @throws ValidationError when the text is not JSON or the genotype is invalid
 * @example parseGenotype('{"normal":{"blocks":[...]},"reduction":{"blocks":[...]}}')
 */
export function parseGenotype(json: string | unknown): Genotype {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new ValidationError(`genotype: not valid JSON (${(err as Error).message})`);
    }
  }
  return validateGenotype(value);
}

const opIndex = (o: OpName): number => (PRIMITIVES as readonly string[]).indexOf(o);

function canonicalBlock(b: BlockGenotype, relabel: (s: number) => number): BlockGenotype {
  const pairs: [number, OpName][] = [
    [relabel(b.inputs[0]), b.ops[0]],
    [relabel(b.inputs[1]), b.ops[1]],
  ];
  pairs.sort((x, y) => x[0] - y[0] || opIndex(x[1]) - opIndex(y[1]));
  return { inputs: [pairs[0]![0], pairs[1]![0]], ops: [pairs[0]![1], pairs[1]![1]], combine: b.combine };
}

/** A relabelled block as numbers in comparison order: inputs and op indices, then the combine method. */
function blockKey(b: BlockGenotype): number[] {
  return [b.inputs[0], opIndex(b.ops[0]), b.inputs[1], opIndex(b.ops[1]), COMBINE_METHODS.indexOf(b.combine)];
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * A structural class of every block that does not depend on how the blocks are numbered: colour
 * refinement (1-dimensional Weisfeiler-Leman) of the cell's DAG, whose edges carry their op. A block
 * starts from its combine method and whether the cell outputs it; each round it adds the multisets of
 * (op, class) of the states it reads and of the blocks that read it, until the classes stop splitting
 * (at most B rounds of O(B log B)). Classes are ranks of sorted keys, so they are canonical.
 * Identical blocks (same inputs, ops and combine) fall in different classes when the blocks that read
 * them differ, which is what the renumbering must tell apart.
 */
function structuralClasses(cell: CellGenotype, outputs: ReadonlySet<number>): number[] {
  const n = cell.blocks.length;
  const readers: [number, number][][] = Array.from({ length: n + CELL_INPUTS }, () => []); // (op, reader block)
  cell.blocks.forEach((b, k) => {
    for (const j of [0, 1]) readers[b.inputs[j]!]!.push([opIndex(b.ops[j]!), k]);
  });
  const rank = (keys: string[]): number[] => {
    const sorted = [...new Set(keys)].sort();
    const at = new Map(sorted.map((key, i) => [key, i]));
    return keys.map((key) => at.get(key)!);
  };
  // States 0 and 1 keep the classes 0 and 1; blocks' classes start after them.
  let cls = rank(cell.blocks.map((b, k) => `${b.combine}|${outputs.has(k + CELL_INPUTS) ? 1 : 0}`)).map((c) => c + CELL_INPUTS);
  let count = new Set(cls).size;
  const stateClass = (s: number): number => (s < CELL_INPUTS ? s : cls[s - CELL_INPUTS]!);
  for (let round = 0; round < n; round++) {
    const keys = cell.blocks.map((b, k) => {
      const ins = [0, 1].map((j) => `${opIndex(b.ops[j]!)}:${stateClass(b.inputs[j]!)}`).sort();
      const outs = readers[k + CELL_INPUTS]!.map(([op, r]) => `${op}:${cls[r]}`).sort();
      return `${cls[k]}|${ins.join(',')}|${outs.join(',')}`;
    });
    const next = rank(keys).map((c) => c + CELL_INPUTS);
    const nextCount = new Set(next).size;
    cls = next;
    if (nextCount === count) break;
    count = nextCount;
  }
  return cls;
}

/**
 * The canonical form of one cell (see the file header): explicit sorted concat, sorted branches,
 * blocks renumbered in a canonical topological order. The order is built greedily: at each step the
 * available block (all its inputs numbered) whose relabelled encoding is smallest comes next; only
 * identical blocks can tie, and those are taken in the order of their structural class
 * ({@link structuralClasses}), then of their index. Polynomial in the number of blocks (O(B²) for the
 * order, O(B² log B) for the classes), so any B is fine. For cells without identical blocks the
 * result is the smallest topological order of the encoded blocks, as before.
 * @param cell a valid cell genotype
 */
export function canonicalCell(cell: CellGenotype): CellGenotype {
  const n = cell.blocks.length;
  const outputs = resolveConcat(cell);
  const outputSet = new Set(outputs);
  // Structural classes only break ties between identical blocks: without any, skip their B rounds.
  const twins = new Set(cell.blocks.map((b) => [`${b.inputs[0]}:${b.ops[0]}`, `${b.inputs[1]}:${b.ops[1]}`].sort().join(',') + b.combine)).size < n;
  const cls = twins ? structuralClasses(cell, outputSet) : new Array<number>(n).fill(0);
  const label = new Map<number, number>();
  for (let s = 0; s < CELL_INPUTS; s++) label.set(s, s);
  const readers: number[][] = Array.from({ length: n + CELL_INPUTS }, () => []);
  const missing = cell.blocks.map((b) => new Set(b.inputs.filter((i) => i >= CELL_INPUTS)).size);
  cell.blocks.forEach((b, k) => {
    for (const i of new Set(b.inputs)) readers[i]!.push(k);
  });
  // Blocks whose inputs are all numbered: their relabelled form (fixed once they are ready) and its
  // key, extended by the structural class and the index (ties between identical blocks).
  const ready: { k: number; block: BlockGenotype; key: number[] }[] = [];
  const relabel = (s: number): number => label.get(s)!;
  const makeReady = (k: number): void => {
    const block = canonicalBlock(cell.blocks[k]!, relabel);
    ready.push({ k, block, key: [...blockKey(block), cls[k]!, k] });
  };
  cell.blocks.forEach((_, k) => {
    if (missing[k] === 0) makeReady(k);
  });
  const blocks: BlockGenotype[] = [];
  while (blocks.length < n) {
    let at = 0;
    for (let i = 1; i < ready.length; i++) if (compareKeys(ready[i]!.key, ready[at]!.key) < 0) at = i;
    const { k, block } = ready[at]!;
    ready[at] = ready[ready.length - 1]!;
    ready.pop();
    blocks.push(block);
    label.set(k + CELL_INPUTS, blocks.length - 1 + CELL_INPUTS);
    for (const r of readers[k + CELL_INPUTS]!) {
      missing[r]! -= 1;
      if (missing[r] === 0) makeReady(r);
    }
  }
  const concat = outputs.map((s) => label.get(s)!).sort((a, b) => a - b);
  return { blocks, concat };
}

/**
 * The canonical form of a genotype: both cells through {@link canonicalCell}.
 * @param g a valid genotype
 * @example canonicalGenotype(NASNET_A).normal.concat // [1, 2, 3, 4, 5, 6]
 */
export function canonicalGenotype(g: Genotype): Genotype {
  return { normal: canonicalCell(g.normal), reduction: canonicalCell(g.reduction) };
}

/**
 * Canonical JSON text of a genotype (fixed key order: cells normal, reduction; blocks with inputs,
 * ops, combine; then concat).
 * @param g a genotype (validated first)
 */
export function canonicalJson(g: Genotype): string {
  const c = canonicalGenotype(validateGenotype(g));
  const cell = (x: CellGenotype) => ({
    blocks: x.blocks.map((b) => ({ inputs: [...b.inputs], ops: [...b.ops], combine: b.combine })),
    concat: [...(x.concat ?? [])],
  });
  return JSON.stringify({ normal: cell(c.normal), reduction: cell(c.reduction) });
}

/**
 * sha256 hex digest of {@link canonicalJson}: equal for genotypes that build equal networks (up to
 * a channel permutation of concatenations and the numbering of independent blocks).
 * @param g a genotype
 * @example genotypeHash(NASNET_A) // 64 hex characters
 */
export function genotypeHash(g: Genotype): string {
  return createHash('sha256').update(canonicalJson(g)).digest('hex');
}
