import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { genotypeHash, resolveConcat, validateGenotype } from '../lib/cells/genotype.js';
import type { BlockGenotype, CellGenotype, Genotype } from '../lib/cells/genotype-types.js';
import { buildNetwork } from '../lib/cells/network.js';
import { COMBINE_METHODS, PRIMITIVES } from '../lib/cells/space.js';
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
