/**
 * The controller's decision sequence and its mapping to genotypes.
 *
 * For each cell (normal, then reduction) and each block b of B, five decisions in order:
 * first input, second input, first op, second op, combine. That is 10·B integers in all.
 * Block b may read 2 + b hidden states (h_i, h_{i-1}, and the b earlier blocks), so its input
 * decisions range over [0, 2 + b). Op decisions index {@link PRIMITIVES}; combine decisions index
 * {@link COMBINE_METHODS}.
 */
import type { BlockGenotype, CellGenotype, Genotype } from '../cells/genotype-types.js';
import { CELL_INPUTS, COMBINE_METHODS, DEFAULT_BLOCKS, type OpName, PRIMITIVES } from '../cells/space.js';
import { ValidationError } from '../errors.js';
import { checkInteger } from '../util/check.js';
import type { Rng } from '../util/rng.js';

/** What a decision chooses. */
export type DecisionKind = 'input' | 'op' | 'combine';

/** The cell types, in the order the controller decides them. */
export const CELL_TYPES = ['normal', 'reduction'] as const;

/** Decisions per block: input, input, op, op, combine. */
export const DECISIONS_PER_BLOCK = 5;

/** One step of the decision sequence. */
export interface DecisionStep {
  /** 0-based position in the sequence. */
  readonly index: number;
  /** Which cell: 'normal' or 'reduction'. */
  readonly cell: (typeof CELL_TYPES)[number];
  /** Block within the cell. */
  readonly block: number;
  /** Position within the block: 0, 1 = inputs; 2, 3 = ops; 4 = combine. */
  readonly slot: number;
  readonly kind: DecisionKind;
  /** Number of valid choices: 2 + block for inputs, |PRIMITIVES| for ops, |COMBINE_METHODS| for combine. */
  readonly choices: number;
}

/**
 * The decision sequence for cells of `blocks` blocks: 2 · 5 · blocks steps.
 * @param blocks - blocks per cell B; default {@link DEFAULT_BLOCKS} (5).
 * @example decisionSteps(5).length; // 50
 */
export function decisionSteps(blocks: number = DEFAULT_BLOCKS): DecisionStep[] {
  checkInteger(blocks, 'blocks', { where: 'decisionSteps' });
  const steps: DecisionStep[] = [];
  for (const cell of CELL_TYPES) {
    for (let block = 0; block < blocks; block++) {
      for (let slot = 0; slot < DECISIONS_PER_BLOCK; slot++) {
        const kind: DecisionKind = slot < 2 ? 'input' : slot < 4 ? 'op' : 'combine';
        const choices =
          kind === 'input' ? CELL_INPUTS + block : kind === 'op' ? PRIMITIVES.length : COMBINE_METHODS.length;
        steps.push({ index: steps.length, cell, block, slot, kind, choices });
      }
    }
  }
  return steps;
}

/**
 * Check that `decisions` is a valid decision sequence for `blocks` blocks.
 * @param decisions - 10·B integers.
 * @param blocks - blocks per cell B.
 * @throws ValidationError naming the first bad index.
 */
export function checkDecisions(decisions: ArrayLike<number>, blocks: number = DEFAULT_BLOCKS): void {
  const steps = decisionSteps(blocks);
  if (decisions.length !== steps.length) {
    throw new ValidationError(
      `decisions: expected ${steps.length} integers for ${blocks} blocks but received ${decisions.length}`,
    );
  }
  for (const s of steps) {
    const d = decisions[s.index];
    if (!Number.isInteger(d) || d < 0 || d >= s.choices) {
      throw new ValidationError(
        `decisions[${s.index}] (${s.cell} cell, block ${s.block}, ${s.kind}): expected an integer in [0, ${s.choices}) but received ${String(d)}`,
      );
    }
  }
}

/**
 * Turn a decision sequence into a genotype.
 * @param decisions - 10·B integers (see {@link decisionSteps}).
 * @param blocks - blocks per cell B; default 5.
 * @example decisionsToGenotype(randomDecisions(new Rng(0)));
 */
export function decisionsToGenotype(decisions: ArrayLike<number>, blocks: number = DEFAULT_BLOCKS): Genotype {
  checkDecisions(decisions, blocks);
  const cell = (c: number): CellGenotype => {
    const out: BlockGenotype[] = [];
    for (let b = 0; b < blocks; b++) {
      const o = (c * blocks + b) * DECISIONS_PER_BLOCK;
      out.push({
        inputs: [decisions[o], decisions[o + 1]],
        ops: [PRIMITIVES[decisions[o + 2]], PRIMITIVES[decisions[o + 3]]],
        combine: COMBINE_METHODS[decisions[o + 4]],
      });
    }
    return { blocks: out };
  };
  return { normal: cell(0), reduction: cell(1) };
}

/**
 * Turn a genotype back into its decision sequence (the inverse of {@link decisionsToGenotype}).
 * @param genotype - a genotype whose cells both have `blocks` blocks.
 * @param blocks - blocks per cell B; default: the normal cell's block count.
 * @throws ValidationError when an input, op or combine is outside the search space.
 */
export function genotypeToDecisions(genotype: Genotype, blocks: number = genotype.normal.blocks.length): number[] {
  checkInteger(blocks, 'blocks', { where: 'genotypeToDecisions' });
  const out: number[] = [];
  for (const cellType of CELL_TYPES) {
    const cell = genotype[cellType];
    if (cell.blocks.length !== blocks) {
      throw new ValidationError(
        `genotype.${cellType}: expected ${blocks} blocks but received ${cell.blocks.length}`,
      );
    }
    cell.blocks.forEach((blk, b) => {
      const where = `genotype.${cellType}.blocks[${b}]`;
      for (const k of [0, 1]) {
        const i = blk.inputs[k];
        if (!Number.isInteger(i) || i < 0 || i >= CELL_INPUTS + b) {
          throw new ValidationError(
            `${where}.inputs[${k}]: expected an integer in [0, ${CELL_INPUTS + b}) but received ${String(i)}`,
          );
        }
        out.push(i);
      }
      for (const k of [0, 1]) {
        const op = PRIMITIVES.indexOf(blk.ops[k] as OpName);
        if (op < 0) {
          throw new ValidationError(`${where}.ops[${k}]: unknown op '${String(blk.ops[k])}'`);
        }
        out.push(op);
      }
      const c = COMBINE_METHODS.indexOf(blk.combine);
      if (c < 0) {
        throw new ValidationError(`${where}.combine: unknown combine method '${String(blk.combine)}'`);
      }
      out.push(c);
    });
  }
  return out;
}

/**
 * A uniformly random decision sequence (each decision uniform over its valid choices).
 * @param rng - the random source; advanced by 10·B draws.
 * @param blocks - blocks per cell B; default 5.
 */
export function randomDecisions(rng: Rng, blocks: number = DEFAULT_BLOCKS): number[] {
  return decisionSteps(blocks).map((s) => rng.int(s.choices));
}
