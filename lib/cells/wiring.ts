/**
 * How a cell's states are wired around its blocks: how h_{i-1} is matched to h_i, how a block joins
 * its two branches, and how the cell output is formed from the states no block reads. Two wirings:
 *
 * - {@link STANDALONE_WIRING} (TF-slim `NasNetABaseCell`, every network but a weight-sharing search's):
 *   h_{i-1} is used as is in the first cell; a `concat` block outputs 2F channels; the output is the
 *   channel concatenation of the unused states, so its width depends on the genotype.
 * - {@link SHARED_WIRING} (the weight-sharing search, after ENAS, Pham et al. 2018): every hidden
 *   state has exactly F channels and every cell output exactly F, whatever the genotype. Then a
 *   parameter's shape depends only on its name — the cell, the block, the input slot (left/right)
 *   and the op (`cell3/block1/left/sep_conv_5x5/dw1/W`) — so every child of the search space binds
 *   the same tensors of one {@link ParameterStore} wherever it places the same op. Concretely:
 *   h_{i-1} is projected to F by ReLU → 1×1 conv → BN whenever its width differs, the first cell too
 *   (`cellK/prev/...`); a `concat` block is projected back from 2F to F (`cellK/blockB/proj/...`);
 *   the output is ENAS's: each unused state goes through ReLU → 1×1 conv of its own
 *   (`cellK/out/projS/W`, after a factorized reduction when it is a full-resolution input of a
 *   reduction cell), the results are summed and batch-normalized (`cellK/out/bn`). This is ENAS's
 *   "gather the 1×1 weights of the used nodes" written as named tensors: a child reads exactly the
 *   output weights of its own unused states.
 *
 * The standalone wiring keeps the names and shapes every checkpoint was written with; the shared
 * wiring adds the projections above and is only used for the shared weights of a search (the cells
 * it finds are always trained and reported standalone).
 */
import { ValidationError } from '../errors.js';
import { add, type BnConfig, batchNorm, concat, conv, factorizedReduction, type IrEmitter, relu, reluConvBn, type TensorRef } from './emit.js';
import { resolveConcat } from './genotype.js';
import type { CellGenotype } from './genotype-types.js';
import type { CombineMethod } from './space.js';
import { CELL_INPUTS } from './space.js';

/** What a wiring needs to know about the cell being built. */
export interface WiringContext {
  /** Scope name, e.g. `cell7`. */
  readonly name: string;
  /** Reduction cells stride the ops that read the cell inputs. */
  readonly reduction: boolean;
  /** h_i: the previous cell's output. */
  readonly input: TensorRef;
  /** h_{i-1}, or null for the first cell (TF-slim's wiring then uses h_i's raw tensor). */
  readonly prevInput: TensorRef | null;
  /** The cell's filter count F × filter scaling (every op outputs this many channels). */
  readonly filters: number;
  readonly bn: BnConfig;
}

/** One way of wiring cells; see the module comment. */
export interface CellWiring {
  readonly name: WiringName;
  /** h_{i-1} matched to h_i (state 1 of the cell). */
  prev(e: IrEmitter, c: WiringContext): TensorRef;
  /** Block `k`'s output from its two branches. */
  combine(e: IrEmitter, c: WiringContext, k: number, method: CombineMethod, left: TensorRef, right: TensorRef): TensorRef;
  /** The cell output from all its states (h_i, h_{i-1}, then the blocks), at `height`×`width`. */
  output(e: IrEmitter, c: WiringContext, cell: CellGenotype, states: readonly TensorRef[], height: number, width: number): TensorRef;
}

/** The wirings by name. */
export type WiringName = 'standalone' | 'shared';

function reducePrev(e: IrEmitter, c: WiringContext, prev: TensorRef): TensorRef {
  const x = c.input;
  const r = relu(e, `${c.name}/prev/relu`, prev);
  const y = factorizedReduction(e, `${c.name}/prev/reduce`, r, c.filters, 2, c.bn);
  if (y.height !== x.height || y.width !== x.width) {
    throw new ValidationError(
      `cell '${c.name}': h_{i-1} is ${prev.height}x${prev.width} and h_i is ${x.height}x${x.width}; one factorized reduction cannot match them`,
    );
  }
  return y;
}

/** TF-slim's wiring: see the module comment. */
export const STANDALONE_WIRING: CellWiring = {
  name: 'standalone',
  prev(e, c) {
    const prev = c.prevInput;
    if (prev === null) return c.input;
    if (prev.height !== c.input.height || prev.width !== c.input.width) return reducePrev(e, c, prev);
    if (prev.channels !== c.filters) return reluConvBn(e, `${c.name}/prev`, prev, { out: c.filters, kernel: [1, 1] }, c.bn);
    return prev;
  },
  combine(e, c, k, method, left, right) {
    return method === 'add' ? add(e, `${c.name}/block${k}/add`, left, right) : concat(e, `${c.name}/block${k}/concat`, [left, right]);
  },
  output(e, c, cell, states, height, width) {
    const parts = resolveConcat(cell).map((s) => {
      const x = states[s]!;
      if (x.height !== height || x.width !== width) return factorizedReduction(e, `${c.name}/out/reduce${s}`, x, c.filters, 2, c.bn);
      if (s < CELL_INPUTS && x.channels !== c.filters) return factorizedReduction(e, `${c.name}/out/reduce${s}`, x, c.filters, 1, c.bn);
      return x;
    });
    return concat(e, `${c.name}/concat`, parts);
  },
};

/** ENAS-style wiring with genotype-independent shapes: see the module comment. */
export const SHARED_WIRING: CellWiring = {
  name: 'shared',
  prev(e, c) {
    const prev = c.prevInput ?? c.input;
    if (prev.height !== c.input.height || prev.width !== c.input.width) return reducePrev(e, c, prev);
    if (prev.channels !== c.filters) return reluConvBn(e, `${c.name}/prev`, prev, { out: c.filters, kernel: [1, 1] }, c.bn);
    return prev;
  },
  combine(e, c, k, method, left, right) {
    if (method === 'add') return add(e, `${c.name}/block${k}/add`, left, right);
    const joined = concat(e, `${c.name}/block${k}/concat`, [left, right]);
    return reluConvBn(e, `${c.name}/block${k}/proj`, joined, { out: c.filters, kernel: [1, 1] }, c.bn);
  },
  output(e, c, cell, states, height, width) {
    let sum: TensorRef | null = null;
    for (const s of resolveConcat(cell)) {
      let x = states[s]!;
      if (x.height !== height || x.width !== width) x = factorizedReduction(e, `${c.name}/out/reduce${s}`, x, c.filters, 2, c.bn);
      if (x.channels !== c.filters) {
        throw new ValidationError(`cell '${c.name}': state ${s} has ${x.channels} channels; the shared wiring keeps every state at ${c.filters}`);
      }
      const y = conv(e, `${c.name}/out/proj${s}`, relu(e, `${c.name}/out/relu${s}`, x), { out: c.filters, kernel: [1, 1] });
      sum = sum === null ? y : add(e, `${c.name}/out/add${s}`, sum, y);
    }
    return batchNorm(e, `${c.name}/out/bn`, sum!, c.bn);
  },
};

/** Every wiring, by name. */
export const WIRINGS: Readonly<Record<WiringName, CellWiring>> = { standalone: STANDALONE_WIRING, shared: SHARED_WIRING };
