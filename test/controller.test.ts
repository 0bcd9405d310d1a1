import { describe, expect, it } from 'vitest';
import { CELL_INPUTS, COMBINE_METHODS, PRIMITIVES } from '../lib/cells/space.js';
import {
  Adam,
  checkDecisions,
  decisionSteps,
  decisionsToGenotype,
  EmaBaseline,
  genotypeToDecisions,
  LstmController,
  type ObjectiveTerm,
  randomDecisions,
} from '../lib/controller/index.js';
import { Rng } from '../lib/util/rng.js';

describe('decisions', () => {
  it('lays out 2 x 5B steps with masked input ranges', () => {
    const steps = decisionSteps(5);
    expect(steps.length).toBe(50);
    expect(steps.slice(0, 5).map((s) => [s.kind, s.choices])).toEqual([
      ['input', 2],
      ['input', 2],
      ['op', PRIMITIVES.length],
      ['op', PRIMITIVES.length],
      ['combine', COMBINE_METHODS.length],
    ]);
    expect(steps[45]).toMatchObject({ cell: 'reduction', block: 4, slot: 0, kind: 'input', choices: 6 });
  });

  it('round-trips genotype <-> decisions and names the bad index', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 20; i++) {
      const d = randomDecisions(rng, 5);
      expect(genotypeToDecisions(decisionsToGenotype(d))).toEqual(d);
    }
    const bad = randomDecisions(rng, 2);
    bad[5] = 3; // block 1 may read states 0..2 only
    expect(() => checkDecisions(bad, 2)).toThrow(
      'decisions[5] (normal cell, block 1, input): expected an integer in [0, 3) but received 3',
    );
    expect(() => checkDecisions([0, 1], 2)).toThrow('expected 20 integers for 2 blocks but received 2');
    const g = decisionsToGenotype(randomDecisions(rng, 2), 2);
    const wrong = { ...g, reduction: { blocks: [g.reduction.blocks[0], { ...g.reduction.blocks[1], ops: ['conv_9x9', 'identity'] }] } };
    expect(() => genotypeToDecisions(wrong as never)).toThrow("genotype.reduction.blocks[1].ops[0]: unknown op 'conv_9x9'");
  });
});

/** Naive reference forward (nested loops over the documented layout), independent of the class's loops. */
function referenceLogProb(ctl: LstmController, decisions: number[]): { logProb: number; entropy: number } {
  const P = ctl.params;
  const H = ctl.config.hiddenSize;
  const slice = (name: string) => ctl.layout.find((s) => s.name === name)!;
  const mat = (name: string, r: number, c: number) => P[slice(name).offset + r * slice(name).cols + c];
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  let h = new Array(H).fill(0);
  let c = new Array(H).fill(0);
  let x = Array.from({ length: H }, (_, k) => mat('start', 0, k));
  let logProb = 0;
  let entropy = 0;
  for (const step of decisionSteps(ctl.config.blocks)) {
    const gate = (q: number) =>
      Array.from({ length: H }, (_, j) => {
        let s = mat('lstm.bias', q * H + j, 0);
        for (let k = 0; k < H; k++) s += mat('lstm.weight', q * H + j, k) * x[k] + mat('lstm.weight', q * H + j, H + k) * h[k];
        return s;
      });
    const [ai, af, ag, ao] = [0, 1, 2, 3].map(gate);
    c = c.map((cp, j) => sig(af[j]) * cp + sig(ai[j]) * Math.tanh(ag[j]));
    h = c.map((cj, j) => sig(ao[j]) * Math.tanh(cj));
    const logits = Array.from({ length: step.choices }, (_, j) => {
      let s = mat(`head.${step.kind}.bias`, j, 0);
      for (let k = 0; k < H; k++) s += mat(`head.${step.kind}.weight`, j, k) * h[k];
      return s;
    });
    const Z = logits.reduce((a, l) => a + Math.exp(l), 0);
    const p = logits.map((l) => Math.exp(l) / Z);
    const d = decisions[step.index];
    logProb += Math.log(p[d]);
    entropy -= p.reduce((a, pj) => a + pj * Math.log(pj), 0);
    x = Array.from({ length: H }, (_, k) => mat(`embed.${step.kind}`, d, k));
  }
  return { logProb, entropy };
}

describe('LstmController', () => {
  it('initializes every weight uniformly in [-0.1, 0.1] and is deterministic in its seed', () => {
    const a = new LstmController({ hiddenSize: 100, seed: 3 });
    expect(a.size).toBe(4 * 100 * 200 + 400 + 100 + (6 + 13 + 2) * 100 + (6 + 13 + 2) * 101);
    let min = 1;
    let max = -1;
    for (const v of a.params) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(-0.1);
    expect(max).toBeLessThan(0.1);
    expect(min).toBeLessThan(-0.099);
    expect(max).toBeGreaterThan(0.099);
    expect(new LstmController({ hiddenSize: 100, seed: 3 }).params).toEqual(a.params);
    expect(new LstmController({ hiddenSize: 100, seed: 4 }).params).not.toEqual(a.params);
  });

  it('samples genotypes inside the space, with entropy > 0 and logProb equal to the recomputed one', () => {
    const ctl = new LstmController({ hiddenSize: 16, blocks: 5, seed: 1 });
    const rng = new Rng(2);
    const seenInputs = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const s = ctl.sample(rng);
      for (const cell of [s.genotype.normal, s.genotype.reduction]) {
        expect(cell.blocks.length).toBe(5);
        cell.blocks.forEach((b, bi) => {
          for (const inp of b.inputs) {
            expect(inp).toBeGreaterThanOrEqual(0);
            expect(inp).toBeLessThan(CELL_INPUTS + bi);
            seenInputs.add(inp);
          }
          for (const op of b.ops) expect(PRIMITIVES).toContain(op);
          expect(COMBINE_METHODS).toContain(b.combine);
        });
      }
      expect(s.entropy).toBeGreaterThan(0);
      expect(s.logProb).toBeLessThan(0);
      const r = ctl.logProbAndEntropy(s.decisions);
      expect(r.logProb).toBe(s.logProb);
      expect(r.entropy).toBe(s.entropy);
    }
    expect([...seenInputs].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('matches a naive reference forward, and a zero policy is uniform over the masked choices', () => {
    const ctl = new LstmController({ hiddenSize: 5, blocks: 2, seed: 9 });
    const rng = new Rng(4);
    for (let i = 0; i < 5; i++) {
      const d = randomDecisions(rng, 2);
      const got = ctl.logProbAndEntropy(d);
      const ref = referenceLogProb(ctl, d);
      expect(Math.abs(got.logProb - ref.logProb)).toBeLessThan(1e-12);
      expect(Math.abs(got.entropy - ref.entropy)).toBeLessThan(1e-12);
    }
    ctl.params.fill(0);
    const d = randomDecisions(rng, 2);
    const uniform = decisionSteps(2).reduce((a, s) => a + Math.log(s.choices), 0);
    const r = ctl.logProbAndEntropy(d);
    expect(r.logProb).toBeCloseTo(-uniform, 12);
    expect(r.entropy).toBeCloseTo(uniform, 12);
  });

  it('rejects bad options and decisions with the field named', () => {
    expect(() => new LstmController({ hiddenSize: 0 })).toThrow(
      'LstmController: expected positive integer for hiddenSize but received 0 of type number',
    );
    expect(() => new LstmController({ temperature: -1 })).toThrow('LstmController: expected finite number > 0 for temperature but received -1 of type number');
    const ctl = new LstmController({ hiddenSize: 4, blocks: 2 });
    expect(() => ctl.logProbAndEntropy([1, 2, 3])).toThrow('expected 20 integers for 2 blocks but received 3');
    expect(() => ctl.objectiveGradient([], new Float64Array(3))).toThrow('expected a grad buffer of length');
  });

  // Every parameter coordinate, by the fourth-order central stencil
  //   f' ≈ [8 (f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))] / 12h,  h = 1e-3,
  // whose truncation error is O(h^4) ≈ 1e-12 and rounding ≈ 1e-16 · |f| / h ≈ 1e-12 here (measured:
  // worst absolute error 4e-11 over all coordinates). Tolerance: |g − fd| ≤ 1e-5 · max(|g|, |fd|) + 1e-10,
  // i.e. rel err < 1e-5 wherever the gradient is above 1e-5; a wrong term in the backward pass gives
  // errors of order 1e-2..1 (dropping 10% of the tanh-clip derivative fails this test).
  const cases = [
    { blocks: 2, temperature: 1, tanhConstant: undefined },
    { blocks: 5, temperature: 1, tanhConstant: undefined },
    { blocks: 2, temperature: 1.7, tanhConstant: 1.5 },
  ];
  for (const cse of cases) {
    it(`has exact BPTT gradients (finite differences, H = 8, B = ${cse.blocks}, T = ${cse.temperature}, C = ${cse.tanhConstant ?? 'none'})`, () => {
      const ctl = new LstmController({ hiddenSize: 8, seed: 11, initRange: 0.5, ...cse });
      const rng = new Rng(12);
      const terms: ObjectiveTerm[] = [0, 1, 2].map(() => ({
        decisions: ctl.sample(rng).decisions,
        logProbWeight: rng.uniform(-1, 1),
        entropyWeight: rng.uniform(-0.5, 0.5),
      }));
      const objective = (): number =>
        terms.reduce((a, t) => {
          const r = ctl.logProbAndEntropy(t.decisions);
          return a + t.logProbWeight * r.logProb + t.entropyWeight * r.entropy;
        }, 0);
      const { value, grad } = ctl.objectiveGradient(terms);
      expect(value).toBeCloseTo(objective(), 12);
      const at = (i: number, d: number): number => {
        const keep = ctl.params[i];
        ctl.params[i] = keep + d;
        const v = objective();
        ctl.params[i] = keep;
        return v;
      };
      const h = 1e-3;
      let worstRel = 0;
      let bad = '';
      let nonZero = 0;
      for (let i = 0; i < ctl.size; i++) {
        const fd = (8 * (at(i, h) - at(i, -h)) - (at(i, 2 * h) - at(i, -2 * h))) / (12 * h);
        const scale = Math.max(Math.abs(fd), Math.abs(grad[i]));
        if (scale > 1e-5) {
          nonZero++;
          worstRel = Math.max(worstRel, Math.abs(fd - grad[i]) / scale);
        }
        if (!bad && Math.abs(fd - grad[i]) > 1e-5 * scale + 1e-10) {
          const sl = ctl.layout.filter((x) => x.offset <= i).pop()!;
          bad = `params[${i}] (${sl.name}[${i - sl.offset}]): backprop ${grad[i]} vs finite difference ${fd}`;
        }
      }
      expect(bad).toBe('');
      expect(worstRel).toBeLessThan(1e-5);
      // Every slice of the layout gets gradient (no part of the network is cut off).
      expect(nonZero).toBeGreaterThan(ctl.size * 0.9);
      for (const sl of ctl.layout) {
        expect(grad.subarray(sl.offset, sl.offset + sl.rows * sl.cols).some((g) => Math.abs(g) > 1e-6)).toBe(true);
      }
    });
  }
});

describe('Adam and the baseline', () => {
  it('Adam minimizes a quadratic and resumes exactly', () => {
    const x = Float64Array.from([3, -2, 0.5]);
    const opt = new Adam(3, { learningRate: 0.1 });
    const grad = new Float64Array(3);
    for (let t = 0; t < 500; t++) {
      for (let i = 0; i < 3; i++) grad[i] = 2 * (x[i] - i);
      opt.step(x, grad);
    }
    for (let i = 0; i < 3; i++) expect(x[i]).toBeCloseTo(i, 2);
    // First step of Adam moves each coordinate by lr against the gradient's sign.
    const y = Float64Array.from([1, 1]);
    const a = new Adam(2, { learningRate: 0.00035 });
    a.step(y, Float64Array.from([5, -0.01]));
    expect(y[0]).toBeCloseTo(1 - 0.00035, 9);
    expect(y[1]).toBeCloseTo(1 + 0.00035, 9);
    const b = new Adam(2, { learningRate: 0.00035 });
    b.load(JSON.parse(JSON.stringify(a.state())));
    const y2 = Float64Array.from(y);
    a.step(y, Float64Array.from([1, 2]));
    b.step(y2, Float64Array.from([1, 2]));
    expect(Array.from(y2)).toEqual(Array.from(y));
    expect(() => b.load({ step: 1, m: [0], v: [0] })).toThrow('Adam.load: expected { step: integer >= 0, m, v: number[2] }');
  });

  it('EmaBaseline starts at the first reward and decays by 0.95', () => {
    const b = new EmaBaseline(0.95);
    expect(b.advantage(0.5)).toBe(0);
    expect(b.advantage(0.7)).toBeCloseTo(0.2, 12);
    expect(b.value).toBeCloseTo(0.95 * 0.5 + 0.05 * 0.7, 12);
    expect(() => new EmaBaseline(1)).toThrow('EmaBaseline: expected finite number in [0, 1) for decay but received 1 of type number');
  });
});
