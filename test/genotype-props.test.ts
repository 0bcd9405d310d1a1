import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalCell, genotypeHash, resolveConcat, validateGenotype } from '../lib/cells/genotype.js';
import type { BlockGenotype, CellGenotype, Genotype } from '../lib/cells/genotype-types.js';
import { buildNetwork } from '../lib/cells/network.js';
import { COMBINE_METHODS, type OpName, PRIMITIVES } from '../lib/cells/space.js';
import { validateGraph } from '../lib/ir/validate.js';

/** A random valid cell of `b` blocks (default concat: every unread state). */
const cellArb = (b: number): fc.Arbitrary<CellGenotype> =>
  fc
    .tuple(
      ...Array.from({ length: b }, (_, k) =>
        fc.record({
          inputs: fc.tuple(fc.integer({ min: 0, max: k + 1 }), fc.integer({ min: 0, max: k + 1 })),
          ops: fc.tuple(fc.constantFrom(...PRIMITIVES), fc.constantFrom(...PRIMITIVES)),
          combine: fc.constantFrom(...COMBINE_METHODS),
        }),
      ),
    )
    .map((blocks) => ({ blocks: blocks as BlockGenotype[] }));

const genotypeArb = (b: number): fc.Arbitrary<Genotype> =>
  fc.record({ normal: cellArb(b), reduction: cellArb(b) });

/**
 * A cell where identical blocks are the rule, not the exception: two ops, one combine, inputs mostly
 * the cell inputs or the last few blocks, so twins (same inputs, ops, combine) read by different
 * blocks abound — the case where a numbering-dependent tie-break would show.
 */
const twinCellArb = (b: number): fc.Arbitrary<CellGenotype> =>
  fc
    .tuple(
      ...Array.from({ length: b }, (_, k) =>
        fc.record({
          inputs: fc.tuple(fc.integer({ min: Math.max(0, k - 1), max: k + 1 }), fc.integer({ min: 0, max: 1 })),
          ops: fc.tuple(fc.constantFrom<OpName>('identity', 'max_pool_3x3'), fc.constant<OpName>('identity')),
          combine: fc.constant('add' as const),
        }),
      ),
    )
    .map((blocks) => ({ blocks: blocks as BlockGenotype[] }));

/**
 * The reference canonical order: every topological order enumerated, the smallest sequence of
 * encoded blocks (then concat) kept — exponential, for small cells only. Equal to canonicalCell's
 * greedy order whenever no two blocks are identical.
 */
function bruteForceCanonical(cell: CellGenotype): CellGenotype {
  const n = cell.blocks.length;
  const outputs = resolveConcat(cell);
  const op = (o: OpName): number => PRIMITIVES.indexOf(o);
  let best: { key: number[]; blocks: BlockGenotype[]; concat: number[] } | null = null;
  const label = new Map<number, number>([
    [0, 0],
    [1, 1],
  ]);
  const placed: BlockGenotype[] = [];
  const used = new Array<boolean>(n).fill(false);
  const walk = (): void => {
    if (placed.length === n) {
      const concat = outputs.map((s) => label.get(s)!).sort((a, b) => a - b);
      const key = [...placed.flatMap((b) => [b.inputs[0], op(b.ops[0]), b.inputs[1], op(b.ops[1]), b.combine === 'add' ? 0 : 1]), ...concat];
      const first = best ? key.findIndex((v, i) => v !== best!.key[i]) : -1;
      if (!best || (first >= 0 && key[first]! < best.key[first]!)) best = { key, blocks: [...placed], concat };
      return;
    }
    for (let k = 0; k < n; k++) {
      const b = cell.blocks[k]!;
      if (used[k] || !b.inputs.every((i) => label.has(i))) continue;
      const pairs = [0, 1].map((j) => [label.get(b.inputs[j]!)!, b.ops[j]!] as const).sort((x, y) => x[0] - y[0] || op(x[1]) - op(y[1]));
      used[k] = true;
      label.set(k + 2, placed.length + 2);
      placed.push({ inputs: [pairs[0]![0], pairs[1]![0]], ops: [pairs[0]![1], pairs[1]![1]], combine: b.combine });
      walk();
      placed.pop();
      label.delete(k + 2);
      used[k] = false;
    }
  };
  walk();
  const found = best as unknown as { blocks: BlockGenotype[]; concat: number[] };
  return { blocks: found.blocks, concat: found.concat };
}

const hasTwins = (cell: CellGenotype): boolean =>
  new Set(cell.blocks.map((b) => JSON.stringify([[b.inputs[0], b.ops[0]], [b.inputs[1], b.ops[1]]].sort()) + b.combine)).size < cell.blocks.length;

/**
 * Renumbers the blocks of `cell` along a random topological order (chosen by `picks`), swaps
 * branches where `swaps` says so, and lists the concat in reverse. Builds an equivalent cell.
 */
function shuffle(cell: CellGenotype, picks: number[], swaps: boolean[]): CellGenotype {
  const n = cell.blocks.length;
  const label = new Map<number, number>([
    [0, 0],
    [1, 1],
  ]);
  const order: number[] = [];
  const left = new Set(Array.from({ length: n }, (_, k) => k));
  for (let step = 0; step < n; step++) {
    const ready = [...left].filter((k) => cell.blocks[k]!.inputs.every((i) => label.has(i)));
    const k = ready[picks[step]! % ready.length]!;
    left.delete(k);
    label.set(k + 2, step + 2);
    order.push(k);
  }
  const blocks = order.map((k, j): BlockGenotype => {
    const b = cell.blocks[k]!;
    const inputs: [number, number] = [label.get(b.inputs[0])!, label.get(b.inputs[1])!];
    return swaps[j]
      ? { inputs: [inputs[1], inputs[0]], ops: [b.ops[1], b.ops[0]], combine: b.combine }
      : { inputs, ops: [b.ops[0], b.ops[1]], combine: b.combine };
  });
  return { blocks, concat: resolveConcat(cell).map((s) => label.get(s)!).reverse() };
}

describe('genotype hash properties', () => {
  it('is invariant under block renumbering, branch swaps and concat order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((b) =>
          fc.tuple(
            genotypeArb(b),
            fc.array(fc.nat(), { minLength: b, maxLength: b }),
            fc.array(fc.boolean(), { minLength: b, maxLength: b }),
          ),
        ),
        ([g, picks, swaps]) => {
          const h = genotypeHash(g);
          const shuffled: Genotype = { normal: shuffle(g.normal, picks, swaps), reduction: shuffle(g.reduction, picks, swaps) };
          validateGenotype(shuffled);
          expect(genotypeHash(shuffled)).toBe(h);
        },
      ),
      { numRuns: 200, seed: 20261128 },
    );
  });

  it('is invariant under renumbering when identical blocks abound (twins read by different blocks)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }).chain((b) =>
          fc.tuple(twinCellArb(b), twinCellArb(b), fc.array(fc.nat(), { minLength: b, maxLength: b }), fc.array(fc.boolean(), { minLength: b, maxLength: b })),
        ),
        ([normal, reduction, picks, swaps]) => {
          const g: Genotype = { normal, reduction };
          const shuffled: Genotype = { normal: shuffle(normal, picks, swaps), reduction: shuffle(reduction, picks, swaps) };
          expect(genotypeHash(shuffled)).toBe(genotypeHash(g));
        },
      ),
      { numRuns: 300, seed: 16 },
    );
  });

  it('orders blocks as the exhaustive smallest topological order when no two blocks are identical', () => {
    let compared = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }).chain((b) => cellArb(b)), (cell) => {
        if (hasTwins(cell)) return;
        compared++;
        expect(canonicalCell(cell)).toEqual(bruteForceCanonical(cell));
      }),
      { numRuns: 300, seed: 1616 },
    );
    expect(compared).toBeGreaterThan(200);
  });

  it('is polynomial in the number of blocks: 12, 50 and 1,000 identical blocks hash at once', () => {
    // The exhaustive order took minutes for 12 identical blocks and never ended for 50.
    for (const n of [12, 50, 1000]) {
      const cell: CellGenotype = { blocks: Array.from({ length: n }, () => ({ inputs: [0, 1], ops: ['sep_conv_3x3', 'sep_conv_3x3'], combine: 'add' })) };
      const chain: CellGenotype = { blocks: Array.from({ length: n }, (_, k) => ({ inputs: [k % 2, (k * 7919) % (k + 2)], ops: ['identity', 'conv_1x1'], combine: 'add' })) };
      expect(genotypeHash({ normal: cell, reduction: chain })).toMatch(/^[0-9a-f]{64}$/);
    }
  }, 20_000);

  it('changes when one op changes', () => {
    fc.assert(
      fc.property(genotypeArb(5), fc.nat(4), fc.nat(1), fc.nat(PRIMITIVES.length - 2), (g, k, j, d) => {
        const b = g.normal.blocks[k]!;
        const old = PRIMITIVES.indexOf(b.ops[j]!);
        const ops = [...b.ops] as [BlockGenotype['ops'][0], BlockGenotype['ops'][1]];
        ops[j] = PRIMITIVES[(old + 1 + d) % PRIMITIVES.length]!;
        const blocks = g.normal.blocks.map((x, i) => (i === k ? { ...x, ops } : x));
        const changed: Genotype = { normal: { blocks }, reduction: g.reduction };
        expect(genotypeHash(changed)).not.toBe(genotypeHash(g));
      }),
      { numRuns: 100, seed: 7 },
    );
  });
});

describe('random genotypes build valid IR', () => {
  it('CIFAR and ImageNet stems, any ops and combines', () => {
    fc.assert(
      fc.property(genotypeArb(4), fc.constantFrom('cifar' as const, 'imagenet' as const), (g, stem) => {
        const net = buildNetwork(g, { stem, cellsPerStack: 1, filters: 8, numClasses: 10, inputSize: stem === 'cifar' ? 16 : 48, auxHead: false });
        const shapes = validateGraph(net.graph, 2);
        validateGraph(net.inference, 1);
        expect(shapes.get('head/fc')).toEqual([2, 10]);
      }),
      { numRuns: 40, seed: 42 },
    );
  });
});
