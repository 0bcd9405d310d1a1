/**
 * The NASNet controller: a one-layer LSTM that emits the 2 · 5 · B decisions of a genotype, one
 * softmax per step, in plain TypeScript on Float64Array.
 *
 * Shapes: H = hidden units (default 100), E = embedding size (= H), B = blocks per cell,
 * T = 10 · B steps, n = valid choices at a step (2 + b for the inputs of block b, 13 ops, 2 combines).
 *
 * Step t: x_t is the learned start vector (t = 0) or the embedding of decision t - 1 in the table of
 * that decision's kind; the LSTM gives h_t; the head of step t's kind gives logits l = W_k h_t + b_k
 * over the valid choices only (masking the rest), then z = C · tanh(l / (τ · C)) when a tanh constant C
 * is set, else z = l / τ (τ = temperature); p = softmax(z).
 *
 * Gradients are exact backpropagation through time of Σ_i α_i · log p(decisions_i) + β_i · H_i, where
 * H_i is the sum of the per-step entropies. Parameter gradients accumulate (+=) into the caller's buffer.
 */
import type { Genotype } from '../cells/genotype-types.js';
import { COMBINE_METHODS, DEFAULT_BLOCKS, PRIMITIVES } from '../cells/space.js';
import { ValidationError } from '../errors.js';
import { checkInteger, checkNumber } from '../util/check.js';
import { Rng } from '../util/rng.js';
import { checkDecisions, type DecisionKind, decisionSteps, decisionsToGenotype } from './decisions.js';

/** Options of an {@link LstmController}. */
export interface LstmControllerOptions {
  /** Blocks per cell B; default 5. */
  blocks?: number;
  /** LSTM hidden units (and embedding size); default 100. */
  hiddenSize?: number;
  /** Weights are drawn uniformly from [-initRange, initRange]; default 0.1. */
  initRange?: number;
  /** Logits are divided by this before the softmax; default 1. */
  temperature?: number;
  /** When set, logits are clipped as C · tanh(l / C) (after the temperature); default none (also null). */
  tanhConstant?: number | null;
  /** Seed of the weight initialization; default 0. */
  seed?: number;
}

/** The resolved options of an {@link LstmController} (JSON-serializable). */
export interface LstmControllerConfig {
  blocks: number;
  hiddenSize: number;
  initRange: number;
  temperature: number;
  /** `null` = no tanh clipping. */
  tanhConstant: number | null;
  seed: number;
}

/** A named slice of the flat parameter vector: a rows × cols matrix, row-major. */
export interface ParameterSlice {
  readonly name: string;
  readonly offset: number;
  readonly rows: number;
  readonly cols: number;
}

/** One sampled architecture. */
export interface ControllerSample {
  genotype: Genotype;
  /** The 10 · B integer choices. */
  decisions: number[];
  /** Σ_t log p(decision_t). */
  logProb: number;
  /** Σ_t entropy of step t's (masked) softmax, in nats. */
  entropy: number;
}

/** One term of the objective Σ logProbWeight · logProb + entropyWeight · entropy. */
export interface ObjectiveTerm {
  decisions: ArrayLike<number>;
  logProbWeight: number;
  entropyWeight: number;
}

/**
 * Resolve and check controller options.
 * @param options - see {@link LstmControllerOptions}.
 * @example resolveControllerOptions({ hiddenSize: 32 }).blocks; // 5
 */
export function resolveControllerOptions(options: LstmControllerOptions = {}): LstmControllerConfig {
  const where = 'LstmController';
  const positive = { min: 0, minOpen: true, where };
  return {
    blocks: checkInteger(options.blocks ?? DEFAULT_BLOCKS, 'blocks', { where }),
    hiddenSize: checkInteger(options.hiddenSize ?? 100, 'hiddenSize', { where }),
    initRange: checkNumber(options.initRange ?? 0.1, 'initRange', positive),
    temperature: checkNumber(options.temperature ?? 1, 'temperature', positive),
    tanhConstant: options.tanhConstant === undefined || options.tanhConstant === null ? null : checkNumber(options.tanhConstant, 'tanhConstant', positive),
    seed: checkInteger(options.seed ?? 0, 'seed', { min: Number.MIN_SAFE_INTEGER, where }),
  };
}

const KIND_INDEX: Record<DecisionKind, number> = { input: 0, op: 1, combine: 2 };

/**
 * One-layer LSTM policy over NASNet genotypes.
 *
 * @example
 * const ctl = new LstmController({ hiddenSize: 100, blocks: 5, seed: 1 });
 * const s = ctl.sample(new Rng(7));
 * s.genotype.normal.blocks.length; // 5
 * ctl.logProbAndEntropy(s.decisions).logProb === s.logProb; // true
 */
export class LstmController {
  /** The resolved options. */
  readonly config: LstmControllerConfig;
  /** All parameters, one flat vector (see {@link LstmController.layout}). */
  readonly params: Float64Array;
  /** Named slices of {@link LstmController.params}. */
  readonly layout: readonly ParameterSlice[];

  private readonly H: number;
  private readonly E: number;
  private readonly T: number;
  private readonly kinds: Int32Array; // kind index per step
  private readonly choices: Int32Array; // valid choices per step
  private readonly maxChoices: number;
  private readonly offW: number;
  private readonly offB: number;
  private readonly offStart: number;
  private readonly offEmbed: number[]; // by kind index
  private readonly offHeadW: number[];
  private readonly offHeadB: number[];

  /**
   * @param options - {@link LstmControllerOptions}; weights drawn from a PRNG seeded by `seed`.
   */
  constructor(options: LstmControllerOptions = {}) {
    const cfg = resolveControllerOptions(options);
    this.config = cfg;
    const H = cfg.hiddenSize;
    const E = H;
    const steps = decisionSteps(cfg.blocks);
    this.H = H;
    this.E = E;
    this.T = steps.length;
    this.kinds = Int32Array.from(steps, (s) => KIND_INDEX[s.kind]);
    this.choices = Int32Array.from(steps, (s) => s.choices);
    const sizes = [cfg.blocks + 1, PRIMITIVES.length, COMBINE_METHODS.length]; // rows per kind
    this.maxChoices = Math.max(...sizes);

    const layout: ParameterSlice[] = [];
    let offset = 0;
    const add = (name: string, rows: number, cols: number): number => {
      layout.push({ name, offset, rows, cols });
      const o = offset;
      offset += rows * cols;
      return o;
    };
    this.offW = add('lstm.weight', 4 * H, E + H);
    this.offB = add('lstm.bias', 4 * H, 1);
    this.offStart = add('start', 1, E);
    const kindNames = ['input', 'op', 'combine'];
    this.offEmbed = kindNames.map((k, i) => add(`embed.${k}`, sizes[i], E));
    this.offHeadW = [];
    this.offHeadB = [];
    kindNames.forEach((k, i) => {
      this.offHeadW.push(add(`head.${k}.weight`, sizes[i], H));
      this.offHeadB.push(add(`head.${k}.bias`, sizes[i], 1));
    });
    this.layout = layout;
    this.params = new Float64Array(offset);
    const rng = new Rng(cfg.seed);
    for (let i = 0; i < offset; i++) this.params[i] = rng.uniform(-cfg.initRange, cfg.initRange);
  }

  /** Number of parameters. */
  get size(): number {
    return this.params.length;
  }

  /**
   * Sample one architecture from the policy.
   * @param rng - the random source; advanced by one draw per step (10 · B).
   */
  sample(rng: Rng): ControllerSample {
    const decisions = new Array<number>(this.T).fill(0);
    const r = this.forward(decisions, rng, null);
    return { genotype: decisionsToGenotype(decisions, this.config.blocks), decisions, logProb: r.logProb, entropy: r.entropy };
  }

  /**
   * Log-probability and entropy of a given decision sequence under the current weights.
   * @param decisions - 10 · B integers.
   */
  logProbAndEntropy(decisions: ArrayLike<number>): { logProb: number; entropy: number } {
    checkDecisions(decisions, this.config.blocks);
    return this.forward(decisions, null, null);
  }

  /**
   * Accumulate into `grad` the gradient of Σ_terms logProbWeight · logProb + entropyWeight · entropy
   * with respect to {@link LstmController.params}, by backpropagation through time.
   * @param terms - one entry per sampled architecture.
   * @param grad - gradient buffer of length {@link LstmController.size}, accumulated (+=); default a new zero buffer.
   * @returns the objective's value, the per-term log-probs and entropies, and the gradient buffer.
   * @example
   * const { grad } = ctl.objectiveGradient([{ decisions: s.decisions, logProbWeight: 1, entropyWeight: 0 }]);
   */
  objectiveGradient(
    terms: readonly ObjectiveTerm[],
    grad: Float64Array = new Float64Array(this.params.length),
  ): { value: number; logProbs: number[]; entropies: number[]; grad: Float64Array } {
    return this.weightedGradient(
      terms.map((t) => t.decisions),
      (i) => terms[i],
      grad,
    );
  }

  /**
   * Like {@link LstmController.objectiveGradient}, but each sequence's weights may depend on its
   * current log-prob and entropy (as PPO's clipped ratio does): `weights` is called after the
   * forward pass of sequence i and before its backward pass, so each sequence runs forward once.
   * @param sequences - decision sequences, 10 · B integers each.
   * @param weights - (i, logProb, entropy) → { logProbWeight, entropyWeight } for sequence i.
   * @param grad - gradient buffer of length {@link LstmController.size}, accumulated (+=); default zeros.
   * @returns the objective's value, the per-sequence log-probs and entropies, and the gradient buffer.
   * @example
   * ctl.weightedGradient([d], (_, lp) => ({ logProbWeight: Math.exp(lp - old), entropyWeight: 0 }));
   */
  weightedGradient(
    sequences: readonly ArrayLike<number>[],
    weights: (i: number, logProb: number, entropy: number) => { logProbWeight: number; entropyWeight: number },
    grad: Float64Array = new Float64Array(this.params.length),
  ): { value: number; logProbs: number[]; entropies: number[]; grad: Float64Array } {
    if (grad.length !== this.params.length) {
      throw new ValidationError(
        `LstmController: expected a grad buffer of length ${this.params.length} but received ${grad.length}`,
      );
    }
    for (const d of sequences) checkDecisions(d, this.config.blocks);
    let value = 0;
    const logProbs: number[] = [];
    const entropies: number[] = [];
    const cache = this.newCache();
    sequences.forEach((d, i) => {
      const r = this.forward(d, null, cache);
      const w = weights(i, r.logProb, r.entropy);
      if (!Number.isFinite(w.logProbWeight) || !Number.isFinite(w.entropyWeight)) {
        throw new ValidationError(
          `LstmController: weights of sequence ${i} must be finite but are ${w.logProbWeight}, ${w.entropyWeight}`,
        );
      }
      this.backward(d, w.logProbWeight, w.entropyWeight, cache, grad);
      value += w.logProbWeight * r.logProb + w.entropyWeight * r.entropy;
      logProbs.push(r.logProb);
      entropies.push(r.entropy);
    });
    return { value, logProbs, entropies, grad };
  }

  private newCache(): Cache {
    const { T, H, E, maxChoices } = this;
    return {
      h: new Float64Array((T + 1) * H),
      c: new Float64Array((T + 1) * H),
      act: new Float64Array(T * 4 * H),
      tanhC: new Float64Array(T * H),
      xOff: new Int32Array(T),
      xhT: new Float64Array((E + H) * T),
      daT: new Float64Array(4 * H * T),
      z: new Float64Array(T * maxChoices),
      logp: new Float64Array(T * maxChoices),
      ent: new Float64Array(T),
      dh: new Float64Array(H),
      dc: new Float64Array(H),
      da: new Float64Array(4 * H),
      dxh: new Float64Array(E + H),
      dhHead: new Float64Array(H),
      dl: new Float64Array(maxChoices),
    };
  }

  /**
   * Run the LSTM over the sequence. With `rng`, sample each decision and write it into `decisions`;
   * otherwise follow `decisions`. With `cache`, keep what backward needs.
   */
  private forward(
    decisions: ArrayLike<number> & { [i: number]: number },
    rng: Rng | null,
    cache: Cache | null,
  ): { logProb: number; entropy: number } {
    const { T, H, E, maxChoices } = this;
    const P = this.params;
    const temp = this.config.temperature;
    const C = this.config.tanhConstant;
    const EH = E + H;
    const xh = new Float64Array(EH); // [x_t; h_{t-1}]
    const act = new Float64Array(4 * H);
    const cPrev = new Float64Array(H);
    const z = new Float64Array(maxChoices);
    const logp = new Float64Array(maxChoices);
    let logProb = 0;
    let entropy = 0;
    let xOff = this.offStart;
    // h_{-1} = c_{-1} = 0: xh[E..] and cPrev start at zero.
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < E; k++) xh[k] = P[xOff + k];
      if (cache) {
        cache.xOff[t] = xOff;
        const xhT = cache.xhT;
        for (let k = 0; k < EH; k++) xhT[k * T + t] = xh[k];
      }
      // Gates a = W [x; h_prev] + b, four rows at a time (each xh[k] loaded once per four rows;
      // 4H is a multiple of 4), then i, f, g, o.
      for (let r = 0; r < 4 * H; r += 4) {
        const r0 = this.offW + r * EH;
        const r1 = r0 + EH;
        const r2 = r1 + EH;
        const r3 = r2 + EH;
        let s0 = P[this.offB + r];
        let s1 = P[this.offB + r + 1];
        let s2 = P[this.offB + r + 2];
        let s3 = P[this.offB + r + 3];
        for (let k = 0; k < EH; k++) {
          const v = xh[k];
          s0 += P[r0 + k] * v;
          s1 += P[r1 + k] * v;
          s2 += P[r2 + k] * v;
          s3 += P[r3 + k] * v;
        }
        act[r] = s0;
        act[r + 1] = s1;
        act[r + 2] = s2;
        act[r + 3] = s3;
      }
      for (let r = 0; r < 4 * H; r++) {
        act[r] = r >= 2 * H && r < 3 * H ? Math.tanh(act[r]) : 1 / (1 + Math.exp(-act[r]));
      }
      for (let k = 0; k < H; k++) {
        const c = act[H + k] * cPrev[k] + act[k] * act[2 * H + k];
        const tc = Math.tanh(c);
        cPrev[k] = c;
        xh[E + k] = act[3 * H + k] * tc; // h_t, the next step's h_prev
        if (cache) {
          cache.c[(t + 1) * H + k] = c;
          cache.tanhC[t * H + k] = tc;
          cache.h[(t + 1) * H + k] = xh[E + k];
        }
      }
      if (cache) cache.act.set(act, t * 4 * H);
      // Head over the valid choices only (the mask).
      const kind = this.kinds[t];
      const n = this.choices[t];
      const hw = this.offHeadW[kind];
      const hb = this.offHeadB[kind];
      let m = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < n; j++) {
        let s = P[hb + j];
        const row = hw + j * H;
        for (let k = 0; k < H; k++) s += P[row + k] * xh[E + k];
        let zj = s / temp;
        if (C !== null) zj = C * Math.tanh(zj / C);
        z[j] = zj;
        if (zj > m) m = zj;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += Math.exp(z[j] - m);
      const lse = m + Math.log(sum);
      let ent = 0;
      for (let j = 0; j < n; j++) {
        logp[j] = z[j] - lse;
        ent -= Math.exp(logp[j]) * logp[j];
      }
      let a: number;
      if (rng) {
        const u = rng.float();
        a = n - 1;
        let cum = 0;
        for (let j = 0; j < n; j++) {
          cum += Math.exp(logp[j]);
          if (u < cum) {
            a = j;
            break;
          }
        }
        decisions[t] = a;
      } else {
        a = decisions[t];
      }
      logProb += logp[a];
      entropy += ent;
      if (cache) {
        cache.z.set(z.subarray(0, n), t * maxChoices);
        cache.logp.set(logp.subarray(0, n), t * maxChoices);
        cache.ent[t] = ent;
      }
      xOff = this.offEmbed[kind] + a * E;
    }
    return { logProb, entropy };
  }

  /** Backpropagation through time; `cache` holds the forward pass of the same `decisions`. */
  private backward(
    decisions: ArrayLike<number>,
    alpha: number,
    beta: number,
    cache: Cache,
    grad: Float64Array,
  ): void {
    const { T, H, E, maxChoices } = this;
    const P = this.params;
    const EH = E + H;
    const temp = this.config.temperature;
    const C = this.config.tanhConstant;
    const { h, c, act, tanhC, dh, dc, da, dxh, daT, xhT, dhHead, dl } = cache;
    dh.fill(0); // dJ/dh_t from step t + 1
    dc.fill(0); // dJ/dc_t from step t + 1
    for (let t = T - 1; t >= 0; t--) {
      const kind = this.kinds[t];
      const n = this.choices[t];
      const a = decisions[t];
      const hw = this.offHeadW[kind];
      const hb = this.offHeadB[kind];
      const zb = t * maxChoices;
      const ent = cache.ent[t];
      const hCur = (t + 1) * H;
      // dJ/dz_j = α (1[j = a] - p_j) - β p_j (log p_j + H_t); then through tanh clipping and temperature.
      for (let j = 0; j < n; j++) {
        const lp = cache.logp[zb + j];
        const p = Math.exp(lp);
        let g = alpha * ((j === a ? 1 : 0) - p) - beta * p * (lp + ent);
        if (C !== null) {
          const th = cache.z[zb + j] / C;
          g *= 1 - th * th;
        }
        dl[j] = g / temp;
      }
      dhHead.fill(0);
      for (let j = 0; j < n; j++) {
        const g = dl[j];
        if (g === 0) continue;
        grad[hb + j] += g;
        const row = hw + j * H;
        for (let k = 0; k < H; k++) {
          grad[row + k] += g * h[hCur + k];
          dhHead[k] += P[row + k] * g;
        }
      }
      // LSTM cell.
      const ab = t * 4 * H;
      const prev = t * H;
      for (let k = 0; k < H; k++) {
        const dhk = dh[k] + dhHead[k];
        const i = act[ab + k];
        const f = act[ab + H + k];
        const g = act[ab + 2 * H + k];
        const o = act[ab + 3 * H + k];
        const tc = tanhC[t * H + k];
        const dck = dc[k] + dhk * o * (1 - tc * tc);
        da[k] = dck * g * i * (1 - i);
        da[H + k] = dck * c[prev + k] * f * (1 - f);
        da[2 * H + k] = dck * i * (1 - g * g);
        da[3 * H + k] = dhk * tc * o * (1 - o);
        dc[k] = dck * f;
      }
      // d[x; h_prev] = W^T da (dW is summed over all steps below); db += da.
      dxh.fill(0);
      for (let r = 0; r < 4 * H; r++) {
        daT[r * T + t] = da[r];
        grad[this.offB + r] += da[r];
      }
      // Four rows at a time, so each dxh[k] is loaded and stored once per four rows (4H is a multiple of 4).
      for (let r = 0; r < 4 * H; r += 4) {
        const g0 = da[r];
        const g1 = da[r + 1];
        const g2 = da[r + 2];
        const g3 = da[r + 3];
        const r0 = this.offW + r * EH;
        const r1 = r0 + EH;
        const r2 = r1 + EH;
        const r3 = r2 + EH;
        for (let k = 0; k < EH; k++) {
          dxh[k] += P[r0 + k] * g0 + P[r1 + k] * g1 + (P[r2 + k] * g2 + P[r3 + k] * g3);
        }
      }
      const xOff = cache.xOff[t];
      for (let k = 0; k < E; k++) grad[xOff + k] += dxh[k];
      for (let k = 0; k < H; k++) dh[k] = dxh[E + k];
    }
    // dW[r][k] += Σ_t da_t[r] · [x_t; h_{t-1}][k]: dots of length T, both operands contiguous, four
    // weights of a row at a time (each da_t[r] loaded once per four).
    for (let r = 0; r < 4 * H; r++) {
      const dr = r * T;
      const row = this.offW + r * EH;
      let k = 0;
      for (; k + 3 < EH; k += 4) {
        const x0 = k * T;
        const x1 = x0 + T;
        const x2 = x1 + T;
        const x3 = x2 + T;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let t = 0; t < T; t++) {
          const d = daT[dr + t];
          s0 += d * xhT[x0 + t];
          s1 += d * xhT[x1 + t];
          s2 += d * xhT[x2 + t];
          s3 += d * xhT[x3 + t];
        }
        grad[row + k] += s0;
        grad[row + k + 1] += s1;
        grad[row + k + 2] += s2;
        grad[row + k + 3] += s3;
      }
      for (; k < EH; k++) {
        let s0 = 0;
        for (let t = 0; t < T; t++) s0 += daT[dr + t] * xhT[k * T + t];
        grad[row + k] += s0;
      }
    }
  }
}

interface Cache {
  h: Float64Array; // (T + 1) × H, row 0 = initial zeros
  c: Float64Array; // (T + 1) × H
  act: Float64Array; // T × 4H, post-activation i, f, g, o
  tanhC: Float64Array; // T × H
  xOff: Int32Array; // T, offset of x_t in params
  xhT: Float64Array; // (E + H) × T, [x_t; h_{t-1}] by column
  daT: Float64Array; // 4H × T, dJ/d(gate pre-activations) by column
  z: Float64Array; // T × maxChoices, transformed logits
  logp: Float64Array; // T × maxChoices
  ent: Float64Array; // T
  dh: Float64Array;
  dc: Float64Array;
  da: Float64Array;
  dxh: Float64Array;
  dhHead: Float64Array;
  dl: Float64Array;
}
