import { describe, expect, it } from 'vitest';
import {
  canonicalGenotype,
  canonicalJson,
  genotypeHash,
  parseGenotype,
  resolveConcat,
  validateGenotype,
} from '../lib/cells/genotype.js';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { GENOTYPES, NASNET_A } from '../lib/cells/genotypes.js';
import { ValidationError } from '../lib/errors.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests corrupt parsed JSON on purpose, field by field.
type Loose = any;
const clone = (g: Genotype): Loose => JSON.parse(JSON.stringify(g));

describe('NASNET_A (TF-slim NasNetANormalCell / NasNetAReductionCell)', () => {
  it('is valid and has 5 add blocks per cell', () => {
    const g = validateGenotype(NASNET_A);
    expect(g.normal.blocks).toHaveLength(5);
    expect(g.reduction.blocks).toHaveLength(5);
    for (const b of [...g.normal.blocks, ...g.reduction.blocks]) expect(b.combine).toBe('add');
  });

  it("matches slim's hiddenstate_indices and operations", () => {
    const pairs = (c: Genotype['normal']) => c.blocks.flatMap((b) => [...b.inputs]);
    const ops = (c: Genotype['normal']) => c.blocks.flatMap((b) => [...b.ops]);
    expect(pairs(NASNET_A.normal)).toEqual([0, 1, 1, 1, 0, 1, 1, 1, 0, 0]);
    expect(pairs(NASNET_A.reduction)).toEqual([0, 1, 0, 1, 0, 1, 3, 2, 2, 0]);
    expect(ops(NASNET_A.normal)).toEqual([
      'sep_conv_5x5', 'sep_conv_3x3', 'sep_conv_5x5', 'sep_conv_3x3', 'avg_pool_3x3',
      'identity', 'avg_pool_3x3', 'avg_pool_3x3', 'sep_conv_3x3', 'identity',
    ]);
    expect(ops(NASNET_A.reduction)).toEqual([
      'sep_conv_5x5', 'sep_conv_7x7', 'max_pool_3x3', 'sep_conv_7x7', 'avg_pool_3x3',
      'sep_conv_5x5', 'identity', 'avg_pool_3x3', 'sep_conv_3x3', 'max_pool_3x3',
    ]);
  });

  it('concatenates 6 states in the normal cell (h_{i-1} + 5 blocks) and 4 in the reduction cell', () => {
    expect(resolveConcat(NASNET_A.normal)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(resolveConcat(NASNET_A.reduction)).toEqual([3, 4, 5, 6]);
  });

  it('every named genotype validates', () => {
    for (const [name, g] of Object.entries(GENOTYPES)) expect(() => validateGenotype(g), name).not.toThrow();
  });
});

describe('validateGenotype errors name cell, block and field', () => {
  const bad = (mutate: (g: Loose) => void): (() => Genotype) => {
    const g = clone(NASNET_A);
    mutate(g);
    return () => validateGenotype(g);
  };

  it('rejects an input index beyond the states a block may read', () => {
    const f = bad((g) => {
      g.reduction.blocks[3].inputs[1] = 6;
    });
    expect(f).toThrow(ValidationError);
    expect(f).toThrow('reduction block 3: inputs[1] = 6 but block 3 may only read states 0..4');
  });

  it('rejects a negative or fractional input', () => {
    expect(bad((g) => (g.normal.blocks[0].inputs[0] = -1))).toThrow('normal block 0: inputs[0] = -1 but block 0 may only read states 0..1');
    expect(bad((g) => (g.normal.blocks[2].inputs[1] = 1.5))).toThrow('normal block 2: inputs[1] = 1.5');
  });

  it('rejects an unknown op and lists the space', () => {
    expect(bad((g) => (g.normal.blocks[1].ops[1] = 'sep_conv_9x9'))).toThrow(
      "normal block 1: ops[1] = 'sep_conv_9x9' is not an op of the search space (identity, conv_1x3_3x1,",
    );
  });

  it('rejects an unknown combine', () => {
    expect(bad((g) => (g.reduction.blocks[0].combine = 'mul'))).toThrow(
      "reduction block 0: combine = 'mul' but expected one of add, concat",
    );
  });

  it('rejects missing cells, blocks and malformed fields', () => {
    expect(() => validateGenotype(null)).toThrow("genotype: expected an object with 'normal' and 'reduction' but received null");
    expect(bad((g) => delete g.reduction)).toThrow("reduction cell: expected an object with 'blocks' but received undefined");
    expect(bad((g) => (g.normal.blocks = []))).toThrow("normal cell: 'blocks' must be a non-empty array");
    expect(bad((g) => (g.normal.blocks[4].inputs = [0]))).toThrow("normal block 4: 'inputs' must be an array of 2 state indices but received [0]");
    expect(bad((g) => (g.normal.blocks[4].ops = 'identity'))).toThrow("normal block 4: 'ops' must be an array of 2 op names but received 'identity'");
  });

  it('rejects a bad concat and dead blocks', () => {
    expect(bad((g) => (g.normal.concat = [1, 7]))).toThrow('normal cell: concat[1] = 7 but the cell has states 0..6');
    expect(bad((g) => (g.normal.concat = [2, 2]))).toThrow('normal cell: concat[1] = 2 is listed twice');
    expect(bad((g) => (g.normal.concat = [1, 2, 3, 4, 5]))).toThrow(
      'normal block 4: its output (state 6) is neither read by a later block nor in concat',
    );
  });

  it('rejects an empty concat', () => {
    expect(bad((g) => (g.reduction.concat = []))).toThrow("reduction cell: 'concat' must be a non-empty array of state indices");
  });
});

describe('parseGenotype', () => {
  it('round-trips JSON text', () => {
    expect(parseGenotype(JSON.stringify(NASNET_A))).toEqual(clone(NASNET_A));
  });

  it('names JSON syntax errors', () => {
    expect(() => parseGenotype('{"normal":')).toThrow(/^genotype: not valid JSON/);
  });

  it('validates objects too', () => {
    expect(() => parseGenotype({ normal: NASNET_A.normal })).toThrow("reduction cell: expected an object with 'blocks'");
  });

  it('drops unknown fields', () => {
    const g = parseGenotype({ ...clone(NASNET_A), extra: 1 });
    expect(Object.keys(g)).toEqual(['normal', 'reduction']);
  });
});

describe('canonical form and hash', () => {
  it('is a 64-hex sha256 and stable', () => {
    const h = genotypeHash(NASNET_A);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(genotypeHash(clone(NASNET_A) as Genotype)).toBe(h);
  });

  it('is equal when the two branches of an add are swapped', () => {
    const g = clone(NASNET_A);
    g.normal.blocks[0] = { inputs: [1, 0], ops: ['sep_conv_3x3', 'sep_conv_5x5'], combine: 'add' };
    g.reduction.blocks[4] = { inputs: [0, 2], ops: ['max_pool_3x3', 'sep_conv_3x3'], combine: 'add' };
    expect(genotypeHash(g as Genotype)).toBe(genotypeHash(NASNET_A));
  });

  it('is equal when concat is listed in another order or left to the default', () => {
    const g = clone(NASNET_A);
    g.normal.concat = [6, 5, 4, 3, 2, 1];
    expect(genotypeHash(g as Genotype)).toBe(genotypeHash(NASNET_A));
    const implicit = clone(NASNET_A);
    implicit.reduction.concat = [4, 5, 6];
    implicit.reduction.blocks[3].inputs = [3, 2];
    const dflt = clone(implicit);
    delete dflt.reduction.concat; // unread states of the reduction cell: 4, 5, 6
    expect(resolveConcat(dflt.reduction)).toEqual([4, 5, 6]);
    expect(genotypeHash(dflt as Genotype)).toBe(genotypeHash(implicit as Genotype));
  });

  it('is equal when independent blocks are renumbered', () => {
    // Swap normal blocks 0 and 1 (both read only the cell inputs); nothing reads them.
    const g = clone(NASNET_A);
    [g.normal.blocks[0], g.normal.blocks[1]] = [g.normal.blocks[1], g.normal.blocks[0]];
    expect(genotypeHash(g as Genotype)).toBe(genotypeHash(NASNET_A));
    // Reduction: swap blocks 1 and 2 and fix the references (state 3 <-> state 4).
    const r = clone(NASNET_A);
    [r.reduction.blocks[1], r.reduction.blocks[2]] = [r.reduction.blocks[2], r.reduction.blocks[1]];
    r.reduction.blocks[3].inputs = [4, 2];
    r.reduction.concat = [4, 3, 5, 6];
    expect(genotypeHash(r as Genotype)).toBe(genotypeHash(NASNET_A));
  });

  it('differs when an op, an input, a combine or the concat changes', () => {
    const base = genotypeHash(NASNET_A);
    const variants: ((g: Loose) => void)[] = [
      (g) => (g.normal.blocks[0].ops[0] = 'sep_conv_7x7'),
      (g) => (g.normal.blocks[2].inputs[1] = 0),
      (g) => (g.reduction.blocks[1].combine = 'concat'),
      (g) => (g.normal.concat = [0, 1, 2, 3, 4, 5, 6]),
      // Same ops on the other side of the pair: (0, sep5) + (1, sep3) -> (0, sep3) + (1, sep5).
      (g) => (g.normal.blocks[0].ops = ['sep_conv_3x3', 'sep_conv_5x5']),
      // The normal and reduction cells are not interchangeable.
      (g) => ([g.normal, g.reduction] = [g.reduction, g.normal]),
    ];
    const seen = new Set([base]);
    for (const v of variants) {
      const g = clone(NASNET_A);
      v(g);
      const h = genotypeHash(g as Genotype);
      expect(seen.has(h)).toBe(false);
      seen.add(h);
    }
  });

  it('makes concat explicit and sorted, with sorted branches', () => {
    const c = canonicalGenotype(NASNET_A);
    expect(c.normal.concat).toEqual([1, 2, 3, 4, 5, 6]);
    for (const b of [...c.normal.blocks, ...c.reduction.blocks]) expect(b.inputs[0]).toBeLessThanOrEqual(b.inputs[1]);
    expect(JSON.parse(canonicalJson(NASNET_A)).reduction.concat).toEqual(c.reduction.concat);
  });
});
