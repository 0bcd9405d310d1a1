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
 * 3. Blocks are renumbered to the smallest topological order (lexicographic on the encoded blocks,
 *    then the concat list): two cells that differ only in the numbering of independent blocks hash
 *    the same.
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

function encodeBlock(b: BlockGenotype): string {
  // Fixed-width numbers so string order equals numeric order.
  const n = (x: number): string => String(x).padStart(3, '0');
  return `${n(b.inputs[0])}${n(opIndex(b.ops[0]))}${n(b.inputs[1])}${n(opIndex(b.ops[1]))}${b.combine}`;
}

function compareSeq(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return a.length - b.length;
}

/**
 * The canonical form of one cell (see the file header): explicit sorted concat, sorted branches,
 * blocks in the smallest topological order.
 * @param cell a valid cell genotype
 */
export function canonicalCell(cell: CellGenotype): CellGenotype {
  const n = cell.blocks.length;
  const outputs = resolveConcat(cell);
  let best: { seq: string[]; blocks: BlockGenotype[]; concat: number[] } | null = null;
  const newLabel = new Map<number, number>();
  for (let s = 0; s < CELL_INPUTS; s++) newLabel.set(s, s);
  const placed: BlockGenotype[] = [];
  const seq: string[] = [];
  const used = new Array<boolean>(n).fill(false);
  const search = (): void => {
    if (placed.length === n) {
      const concat = outputs.map((s) => newLabel.get(s)!).sort((a, b) => a - b);
      const full = [...seq, concat.join(',')];
      if (!best || compareSeq(full, best.seq) < 0) best = { seq: full, blocks: [...placed], concat };
      return;
    }
    const depth = placed.length;
    for (let k = 0; k < n; k++) {
      if (used[k]) continue;
      const b = cell.blocks[k]!;
      if (!b.inputs.every((i) => newLabel.has(i))) continue;
      const cb = canonicalBlock(b, (s) => newLabel.get(s)!);
      const code = encodeBlock(cb);
      // Branch and bound: a prefix already greater than the best cannot win.
      if (best) {
        const prefix = compareSeq([...seq, code], (best as { seq: string[] }).seq.slice(0, depth + 1));
        if (prefix > 0) continue;
      }
      used[k] = true;
      newLabel.set(k + CELL_INPUTS, depth + CELL_INPUTS);
      placed.push(cb);
      seq.push(code);
      search();
      seq.pop();
      placed.pop();
      newLabel.delete(k + CELL_INPUTS);
      used[k] = false;
    }
  };
  search();
  const found = best as unknown as { blocks: BlockGenotype[]; concat: number[] };
  return { blocks: found.blocks, concat: found.concat };
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
