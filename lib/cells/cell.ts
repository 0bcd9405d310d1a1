/**
 * The one generic cell interpreter: a cell genotype → IR (TF-slim `NasNetABaseCell.__call__`).
 *
 * Wiring:
 * - cell base (slim `_cell_base`): h_{i-1} is matched to h_i — ReLU + factorized reduction when
 *   their spatial sizes differ, ReLU → 1×1 conv → BN when only the channels differ, untouched when
 *   there is no h_{i-1} (first cell: h_{i-1} = h_i's raw input) — and h_i goes through
 *   ReLU → 1×1 conv → BN to the cell's filter count;
 * - block k reads states `inputs` (0 = h_i, 1 = h_{i-1}, 2 + j = block j), applies `ops` through
 *   {@link OPS} (stride 2 on ops reading states 0/1 in a reduction cell), DropPath on every op the
 *   table marks droppable (training graphs), then Add or Concat;
 * - output: the states of {@link resolveConcat} concatenated along channels; a state whose spatial
 *   size differs from the cell's output (an unused input of a reduction cell) goes through a stride-2
 *   factorized reduction, a cell input whose channels differ through a 1×1 conv + BN (slim
 *   `_combine_unused_states`).
 *
 * Names: `${cell}/base/...`, `${cell}/prev/...`, `${cell}/block${k}/${left|right}/${op}/...`,
 * `${cell}/block${k}/add`, `${cell}/out/reduce${s}/...`, `${cell}/concat` (the cell output).
 *
 * The matching of h_{i-1}, the combine and the output are the cell's {@link CellWiring}: TF-slim's
 * above by default, or the weight-sharing search's (every state F channels; see wiring.ts).
 */
import { batchNorm, conv, type IrEmitter, relu, type TensorRef } from './emit.js';
import type { CellGenotype } from './genotype-types.js';
import { OPS } from './ops.js';
import { CELL_INPUTS } from './space.js';
import { type CellWiring, STANDALONE_WIRING, type WiringContext } from './wiring.js';

/** How to build one cell: what its wiring needs (name, kind, inputs, filters, BN), DropPath and the wiring. */
export interface CellOptions extends WiringContext {
  /** DropPath `layer_ratio` ((cell index + 1) / cells), or null for no DropPath nodes. */
  readonly dropPathRatio: number | null;
  /** How states are matched, combined and concatenated; default {@link STANDALONE_WIRING} (TF-slim's). */
  readonly wiring?: CellWiring;
}

/**
 * Emits one cell into `e`.
 * @param e emitter the cell's nodes and parameters are appended to
 * @param cell the cell genotype (validated)
 * @param o name, kind, inputs, filters, BN settings, DropPath ratio
 * @returns the cell output tensor (`${name}/concat`)
 * @example
 * const out = buildCell(e, NASNET_A.normal, { name: 'cell0', reduction: false, input: stem,
 *   prevInput: null, filters: 32, bn: DEFAULT_BN, dropPathRatio: null });
 */
export function buildCell(e: IrEmitter, cell: CellGenotype, o: CellOptions): TensorRef {
  const wiring = o.wiring ?? STANDALONE_WIRING;
  const prev = wiring.prev(e, o);
  let h = relu(e, `${o.name}/base/relu`, o.input);
  h = conv(e, `${o.name}/base/conv`, h, { out: o.filters, kernel: [1, 1] });
  h = batchNorm(e, `${o.name}/base/bn`, h, o.bn);
  const states: TensorRef[] = [h, prev];

  cell.blocks.forEach((b, k) => {
    const branches = (['left', 'right'] as const).map((side, j) => {
      const idx = b.inputs[j]!;
      const op = b.ops[j]!;
      const x = states[idx]!;
      const spec = OPS[op];
      const prefix = `${o.name}/block${k}/${side}/${op}`;
      const r = spec.build({
        prefix,
        inputId: x.id,
        channelsIn: x.channels,
        height: x.height,
        width: x.width,
        channelsOut: o.filters,
        stride: o.reduction && idx < CELL_INPUTS ? 2 : 1,
        bn: o.bn,
      });
      e.absorb(r);
      let y: TensorRef = { id: r.output, channels: r.channels, height: r.height, width: r.width };
      if (spec.droppable && o.dropPathRatio !== null) {
        const id = e.node({ id: `${prefix}/drop_path`, op: 'DropPath', inputs: [y.id], attrs: { layer_ratio: o.dropPathRatio } });
        y = { ...y, id };
      }
      return y;
    });
    const [l, r] = branches as [TensorRef, TensorRef];
    states.push(wiring.combine(e, o, k, b.combine, l, r));
  });

  const outH = o.reduction ? Math.ceil(h.height / 2) : h.height;
  const outW = o.reduction ? Math.ceil(h.width / 2) : h.width;
  return wiring.output(e, o, cell, states, outH, outW);
}
