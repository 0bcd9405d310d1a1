/**
 * Fuzzer over genotypes (issue 16, "a fuzzer over genotypes"): random and malformed genotypes (any
 * number of blocks, unknown or odd op names, inputs out of range, negative, fractional or of the
 * wrong type, missing and extra fields, whole cells or blocks replaced by anything JSON can hold)
 * go through every public door a genotype enters by: validateGenotype, parseGenotype (text),
 * genotypeHash, drawCell, countGenotype/buildNetwork, `--genotype` (resolveGenotypeArg) and a
 * BullMQ job payload (parseJobPayload). Each either works (and then the result is sound: the hash is
 * stable through a JSON round trip, the IR validates) or throws a ValidationError whose message names
 * the cell, block or field; never a TypeError, RangeError or other bare JS error, and every case is
 * bounded in time. Fixed seeds (in the titles), so a failure replays.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drawCell } from '../lib/cells/draw.js';
import { genotypeHash, parseGenotype, validateGenotype } from '../lib/cells/genotype.js';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { COMBINE_METHODS, PRIMITIVES } from '../lib/cells/space.js';
import { resolveGenotypeArg } from '../lib/cli/genotype-arg.js';
import { ValidationError } from '../lib/errors.js';
import { validateGraph } from '../lib/ir/validate.js';
import { encodeJobPayload, parseJobPayload } from '../lib/search/job-schema.js';
import type { ChildJob } from '../lib/search/types.js';

const SEED = 1616;
/** Wall-clock bound of one door on one genotype (hashing 2,000 blocks takes milliseconds). */
const BOUND_MS = 2000;
/** What a genotype error names: the cell, a block, a field, or the genotype itself. */
const NAMES_THE_PROBLEM = /genotype|normal|reduction|block \d+|concat|inputs|ops|combine|payload/;

const oddOp = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PRIMITIVES) },
  { weight: 1, arbitrary: fc.constantFrom('Sep_conv_3x3', 'sep_conv_3x3 ', 'conv_9x9', '', '__proto__', 'constructor', 'toString', 'none') },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string(), { maxLength: 2 })) },
);
const oddInput = (k: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: k + 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: -3, max: k + 8 }) },
    { weight: 1, arbitrary: fc.constantFrom(0.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e308, 2 ** 53 + 2, -(2 ** 31)) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('0', '1', null, true), fc.array(fc.nat(3), { maxLength: 2 }), fc.object({ maxDepth: 1 })) },
  );
const oddBlock = (k: number) =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record(
        {
          inputs: fc.oneof({ weight: 8, arbitrary: fc.tuple(oddInput(k), oddInput(k)) }, { weight: 1, arbitrary: fc.array(oddInput(k), { maxLength: 4 }) }),
          ops: fc.oneof({ weight: 8, arbitrary: fc.tuple(oddOp, oddOp) }, { weight: 1, arbitrary: fc.array(oddOp, { maxLength: 4 }) }),
          combine: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...COMBINE_METHODS) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('sum', 'Add', 'mul', ''), fc.anything()) }),
          extra: fc.anything({ maxDepth: 1 }),
        },
        { requiredKeys: [] },
      ),
    },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
  );
/** Any number of blocks: mostly few (so the network can be built), sometimes many (up to 300). */
const oddCell = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.integer({ min: 0, max: 8 }).chain((b) =>
      fc.record(
        {
          blocks: fc.tuple(...Array.from({ length: b }, (_, k) => oddBlock(k))),
          concat: fc.oneof(fc.array(oddInput(b), { maxLength: b + 3 }), fc.anything({ maxDepth: 1 })),
        },
        { requiredKeys: ['blocks'] },
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 9, max: 300 }).chain((b) =>
      fc.record({ blocks: fc.tuple(...Array.from({ length: b }, (_, k) => fc.record({ inputs: fc.tuple(fc.integer({ min: 0, max: k + 1 }), fc.integer({ min: 0, max: k + 1 })), ops: fc.tuple(oddOp, oddOp), combine: fc.constantFrom(...COMBINE_METHODS) }))) }),
    ),
  },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
);
/** A valid cell of 1 to 8 blocks (every block read later or output by the default concat). */
const validCell = fc.integer({ min: 1, max: 8 }).chain((b) =>
  fc
    .tuple(...Array.from({ length: b }, (_, k) => fc.record({ inputs: fc.tuple(fc.integer({ min: 0, max: k + 1 }), fc.integer({ min: 0, max: k + 1 })), ops: fc.tuple(fc.constantFrom(...PRIMITIVES), fc.constantFrom(...PRIMITIVES)), combine: fc.constantFrom(...COMBINE_METHODS) })))
    .map((blocks) => ({ blocks })),
);
const oddGenotype: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ normal: fc.oneof(validCell, oddCell), reduction: fc.oneof(validCell, oddCell) }) },
  { weight: 8, arbitrary: fc.record({ normal: oddCell, reduction: oddCell }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
);

/** Runs one door: its outcome, or rethrows anything that is not a ValidationError naming the problem. */
function door<T>(name: string, value: unknown, call: () => T): { ok: true; value: T } | { ok: false } {
  const t0 = performance.now();
  try {
    return { ok: true, value: call() };
  } catch (err) {
    if (!(err instanceof ValidationError)) {
      throw new Error(`${name} threw ${(err as Error)?.name ?? typeof err} (${(err as Error)?.message ?? String(err)}) for ${JSON.stringify(value)?.slice(0, 400)}`);
    }
    expect(err.message, name).toMatch(NAMES_THE_PROBLEM);
    expect(err.message, name).not.toMatch(/\[object Object\]|Cannot read|is not a function|is not iterable/);
    return { ok: false };
  } finally {
    expect(performance.now() - t0, `${name}: bounded`).toBeLessThan(BOUND_MS);
  }
}

const payloadOf = (genotype: unknown): ChildJob =>
  ({
    runId: 'fuzz',
    id: 0,
    genotype,
    hash: '0'.repeat(64),
    seed: 1,
    dataset: 'tiny',
    proxy: { cellsPerStack: 1, filters: 4, stemMultiplier: 1, epochs: 1, batchSize: 8, lr: 0.1, weightDecay: 0, dropPathKeep: 1, auxHead: false, maxBatchesPerEpoch: 1, maxValidationImages: 0 },
  }) as unknown as ChildJob;

describe('fuzzer: malformed genotypes', () => {
  it(`every door validates or refuses with a ValidationError naming the problem (fast-check seed ${SEED}, 400 genotypes)`, () => {
    let valid = 0;
    let refused = 0;
    fc.assert(
      fc.property(oddGenotype, fc.boolean(), (value, garble) => {
        const v = door('validateGenotype', value, () => validateGenotype(value));
        const text = JSON.stringify(value) ?? 'undefined';
        const p = door('parseGenotype', value, () => parseGenotype(garble ? `${text}}` : text));
        if (garble) expect(p.ok).toBe(false);
        // What survives JSON (NaN becomes null, undefined fields vanish) is what a file would hold.
        const viaJson = text === 'undefined' ? undefined : JSON.parse(text);
        const h = door('genotypeHash', value, () => genotypeHash(viaJson as Genotype));
        const arg = door('--genotype', value, () => resolveGenotypeArg(text.startsWith('{') ? text : `{"genotype":${text}}`));
        const job = door('job payload', value, () => parseJobPayload({ v: 1, job: payloadOf(viaJson) }));
        expect(job.ok).toBe(false); // the hash field is zeros: never the genotype's own
        if (!v.ok) {
          refused++;
          door('drawCell', value, () => drawCell(value as Genotype, 'normal'));
          door('buildNetwork', value, () => buildNetwork(value as Genotype, { cellsPerStack: 1, filters: 4 }));
          return;
        }
        valid++;
        expect(h.ok && arg.ok).toBe(true);
        const hash = (h as { value: string }).value;
        expect(genotypeHash(v.value)).toBe(hash);
        expect(genotypeHash(JSON.parse(JSON.stringify(v.value)))).toBe(hash);
        // A valid genotype with its own hash is a valid payload.
        const good = { ...payloadOf(v.value), hash };
        expect(parseJobPayload(encodeJobPayload(good)).hash).toBe(hash);
        expect(door('drawCell', value, () => drawCell(v.value, 'reduction')).ok).toBe(true);
        if (v.value.normal.blocks.length + v.value.reduction.blocks.length <= 12) {
          const net = door('buildNetwork', value, () => buildNetwork(v.value, { cellsPerStack: 1, filters: 4, numClasses: 3, inputSize: 8, auxHead: false }));
          expect(net.ok).toBe(true);
          if (net.ok) validateGraph(net.value.inference, 1);
        }
      }),
      { numRuns: 400, seed: SEED },
    );
    // The generator reaches both sides.
    expect(valid).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(200);
  }, 60_000);

  it(`one damage to NASNet-A: refused naming the block and field, or still valid (fast-check seed ${SEED + 1}, 300 damages)`, () => {
    const where = fc.record({ cell: fc.constantFrom('normal' as const, 'reduction' as const), block: fc.nat(4), field: fc.constantFrom('inputs', 'ops', 'combine', 'concat', 'blocks') });
    fc.assert(
      fc.property(where, fc.nat(1), fc.anything({ maxDepth: 1 }), ({ cell, block, field }, j, bad) => {
        const g = structuredClone(NASNET_A) as unknown as Record<string, Record<string, unknown>>;
        const c = g[cell]!;
        if (field === 'concat' || field === 'blocks') c[field] = bad;
        else {
          const b = (c.blocks as Record<string, unknown>[])[block]!;
          if (field === 'combine') b.combine = bad;
          else (b[field] as unknown[])[j] = bad;
        }
        const r = door('validateGenotype', g, () => validateGenotype(g));
        if (!r.ok) {
          try {
            validateGenotype(g);
          } catch (err) {
            const m = (err as Error).message;
            expect(m.startsWith(cell) || m.startsWith('genotype')).toBe(true);
            if (field !== 'concat' && field !== 'blocks' && !m.includes('neither read')) expect(m).toContain(`block ${block}`);
          }
        }
      }),
      { numRuns: 300, seed: SEED + 1 },
    );
  });

  it('any number of blocks: 2,000 valid blocks validate, hash and draw in bounded time', () => {
    const b = 2000;
    const cell = { blocks: Array.from({ length: b }, (_, k) => ({ inputs: [k + 1, k % 2] as [number, number], ops: [PRIMITIVES[k % PRIMITIVES.length]!, 'identity' as const] as const, combine: 'add' as const })) };
    const g = { normal: cell, reduction: cell } as unknown as Genotype;
    const hash = door('genotypeHash', 'B=2000', () => genotypeHash(g));
    expect(hash.ok).toBe(true);
    expect(door('drawCell', 'B=2000', () => drawCell(g, 'normal')).ok).toBe(true);
  });
});
