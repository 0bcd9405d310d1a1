/**
 * The LSTM controller trained by policy gradients: PPO as in NASNet (Zoph et al. 2018, section 4; its
 * learning rate, entropy weight, moving-average baseline decay and children per update are
 * {@link NASNET_CONTROLLER}), or plain REINFORCE with the same baseline.
 *
 * The advantage of a child is its reward minus the baseline at the time its reward arrives. Once
 * `updateEvery` rewards are in, the controller takes one update on that batch:
 * - PPO: `epochs` Adam steps on the clipped surrogate
 *   mean_i min(ρ_i A_i, clip(ρ_i, 1 − ε, 1 + ε) A_i) + β · mean_i H_i, with ρ_i = π(a_i) / π_old(a_i)
 *   and π_old the policy that sampled a_i (stored at proposal time, so children proposed before an
 *   earlier update are corrected for, not ignored);
 * - REINFORCE: one Adam step on mean_i A_i · log π(a_i) + β · mean_i H_i.
 */
import type { Genotype } from '../cells/genotype-types.js';
import { DEFAULT_BLOCKS } from '../cells/space.js';
import { ValidationError } from '../errors.js';
import { checkInteger, checkNumber } from '../util/check.js';
import { Rng, type RngState } from '../util/rng.js';
import { Adam, type AdamState } from './adam.js';
import { EmaBaseline } from './baseline.js';
import { LstmController, type LstmControllerConfig, resolveControllerOptions } from './lstm-controller.js';
import { NASNET_CONTROLLER } from './paper.js';
import { type PendingEntry, takePending } from './pending.js';
import { checkRecords, checkStateHeader } from './state-check.js';
import type { Observation, Proposal, SearchStrategy } from './strategy.js';

/** Options of the PPO and REINFORCE strategies. */
export interface PolicyGradientOptions {
  /** Seed of sampling; default 0. The controller's weights use `controller.seed`, default `seed + 1`. */
  seed?: number;
  /** Blocks per cell B; default 5. */
  blocks?: number;
  /** LSTM options: hiddenSize (100), initRange (0.1), temperature (1), tanhConstant (none), seed. */
  controller?: {
    hiddenSize?: number;
    initRange?: number;
    temperature?: number;
    tanhConstant?: number | null;
    seed?: number;
  };
  /** Adam step size; default 0.00035. */
  learningRate?: number;
  /** Weight β of the entropy bonus; default 0.00001. */
  entropyWeight?: number;
  /** Decay of the moving-average baseline; default 0.95. */
  baselineDecay?: number;
  /** Children per update; default 20. */
  updateEvery?: number;
  /** PPO only: clip range ε of the probability ratio; default 0.2. */
  clipEpsilon?: number;
  /** PPO only: Adam steps (epochs over the batch) per update; default 4. */
  epochs?: number;
}

/** Resolved options of a policy-gradient strategy. */
export interface PolicyGradientConfig {
  seed: number;
  controller: LstmControllerConfig;
  learningRate: number;
  entropyWeight: number;
  baselineDecay: number;
  updateEvery: number;
  clipEpsilon: number;
  epochs: number;
}

/** A pending child: its decisions and the log-prob of the policy that sampled it. */
export interface PolicyGradientPending extends PendingEntry {
  logProb: number;
}

/** An observed child waiting for the next update. */
export interface PolicyGradientBuffered extends PolicyGradientPending {
  reward: number;
  advantage: number;
}

/** Saved state of a PPO or REINFORCE strategy. */
export interface PolicyGradientState {
  name: 'ppo' | 'reinforce';
  version: 1;
  config: PolicyGradientConfig;
  nextId: number;
  rng: RngState;
  params: number[];
  adam: AdamState;
  baseline: number | null;
  pending: PolicyGradientPending[];
  buffer: PolicyGradientBuffered[];
  observed: number;
  updates: number;
}

/** Statistics of the last update. */
export interface PolicyGradientUpdateInfo {
  /** Update number, from 1. */
  update: number;
  meanReward: number;
  meanAdvantage: number;
  /** Mean per-architecture entropy (sum over the 10 · B steps) before the update. */
  meanEntropy: number;
  /** PPO: share of ratios outside [1 − ε, 1 + ε] in the last epoch; REINFORCE: 0. */
  clipFraction: number;
}

function resolveConfig(where: string, o: PolicyGradientOptions): PolicyGradientConfig {
  const seed = checkInteger(o.seed ?? 0, 'seed', { min: Number.MIN_SAFE_INTEGER, where });
  const c = o.controller ?? {};
  let controller: LstmControllerConfig;
  try {
    controller = resolveControllerOptions({
      blocks: o.blocks ?? DEFAULT_BLOCKS,
      hiddenSize: c.hiddenSize,
      initRange: c.initRange,
      temperature: c.temperature,
      tanhConstant: c.tanhConstant ?? undefined,
      seed: c.seed ?? seed + 1,
    });
  } catch (e) {
    throw new ValidationError(`${where}: ${(e as Error).message}`);
  }
  return {
    seed,
    controller,
    learningRate: checkNumber(o.learningRate ?? NASNET_CONTROLLER.learningRate, 'learningRate', { min: 0, minOpen: true, where }),
    entropyWeight: checkNumber(o.entropyWeight ?? NASNET_CONTROLLER.entropyWeight, 'entropyWeight', { min: 0, where }),
    baselineDecay: checkNumber(o.baselineDecay ?? NASNET_CONTROLLER.baselineDecay, 'baselineDecay', { min: 0, max: 0.999999, where }),
    updateEvery: checkInteger(o.updateEvery ?? NASNET_CONTROLLER.updateEvery, 'updateEvery', { where }),
    clipEpsilon: checkNumber(o.clipEpsilon ?? 0.2, 'clipEpsilon', { min: 0, max: 1, minOpen: true, where }),
    epochs: checkInteger(o.epochs ?? 4, 'epochs', { where }),
  };
}

/**
 * PPO or REINFORCE over an {@link LstmController}.
 * @example
 * const s = new PolicyGradientStrategy('ppo', { seed: 1 });
 * const kids = s.propose(20);
 * s.observe(kids.map((p) => ({ id: p.id, genotype: p.genotype, reward: evaluate(p.genotype) })));
 * s.lastUpdate?.meanReward;
 */
export class PolicyGradientStrategy implements SearchStrategy<PolicyGradientState> {
  readonly name: 'ppo' | 'reinforce';
  private config: PolicyGradientConfig;
  private controller: LstmController;
  private adam: Adam;
  private baseline: EmaBaseline;
  private rng: Rng;
  private nextId = 0;
  private observed = 0;
  private updates = 0;
  private pending = new Map<number, PolicyGradientPending>();
  private buffer: PolicyGradientBuffered[] = [];
  private last: PolicyGradientUpdateInfo | null = null;

  /**
   * @param name - 'ppo' or 'reinforce'.
   * @param options - {@link PolicyGradientOptions}.
   */
  constructor(name: 'ppo' | 'reinforce', options: PolicyGradientOptions = {}) {
    if (name !== 'ppo' && name !== 'reinforce') {
      throw new ValidationError(`PolicyGradientStrategy: expected name 'ppo' or 'reinforce' but received '${String(name)}'`);
    }
    this.name = name;
    this.config = resolveConfig(name, options);
    this.controller = new LstmController(this.config.controller);
    this.adam = new Adam(this.controller.size, { learningRate: this.config.learningRate });
    this.baseline = new EmaBaseline(this.config.baselineDecay);
    this.rng = new Rng(this.config.seed);
  }

  /** The policy (shared, not a copy: do not modify its parameters). */
  get policy(): LstmController {
    return this.controller;
  }

  /** The moving-average baseline; null before the first reward. */
  get baselineValue(): number | null {
    return this.baseline.value;
  }

  /** Updates taken so far. */
  get updateCount(): number {
    return this.updates;
  }

  /** Statistics of the last update; null before the first. */
  get lastUpdate(): PolicyGradientUpdateInfo | null {
    return this.last;
  }

  /**
   * Sample `k` children from the current policy.
   * @param k - a positive integer.
   */
  propose(k: number): Proposal[] {
    checkInteger(k, 'k', { where: `${this.name}.propose` });
    const out: Proposal[] = [];
    for (let i = 0; i < k; i++) {
      const s = this.controller.sample(this.rng);
      const id = this.nextId++;
      this.pending.set(id, { id, decisions: s.decisions, logProb: s.logProb });
      out.push({ id, genotype: s.genotype, meta: { decisions: s.decisions, logProb: s.logProb, entropy: s.entropy } });
    }
    return out;
  }

  /**
   * Sample `k` children from the current policy without making them pending (see {@link SearchStrategy.sample}).
   * @param k - a positive integer.
   */
  sample(k: number): Genotype[] {
    checkInteger(k, 'k', { where: `${this.name}.sample` });
    return Array.from({ length: k }, () => this.controller.sample(this.rng).genotype);
  }

  /**
   * Record rewards; take an update each time `updateEvery` rewards have gathered.
   * @param results - observations of pending proposals.
   */
  observe(results: Observation[]): void {
    for (const { entry, reward } of takePending(this.name, this.pending, results, this.config.controller.blocks)) {
      const advantage = this.baseline.advantage(reward);
      this.buffer.push({ ...entry, reward, advantage });
      this.observed++;
      if (this.buffer.length >= this.config.updateEvery) {
        this.update(this.buffer.splice(0, this.config.updateEvery));
      }
    }
  }

  private update(batch: PolicyGradientBuffered[]): void {
    const { entropyWeight: beta, clipEpsilon: eps } = this.config;
    const n = batch.length;
    const ctl = this.controller;
    const grad = new Float64Array(ctl.size);
    const steps = this.name === 'ppo' ? this.config.epochs : 1;
    let clipped = 0;
    let meanEntropy = 0;
    for (let epoch = 0; epoch < steps; epoch++) {
      grad.fill(0);
      clipped = 0;
      // Loss = −objective, so Adam's descent is ascent on the objective.
      const r = ctl.weightedGradient(
        batch.map((b) => b.decisions),
        (i, logProb) => {
          const b = batch[i];
          if (this.name === 'reinforce') return { logProbWeight: -b.advantage / n, entropyWeight: -beta / n };
          // d/dlog π of min(ρA, clip(ρ)A) is ρA where the unclipped term is the minimum, else 0.
          const ratio = Math.exp(logProb - b.logProb);
          if (ratio > 1 + eps || ratio < 1 - eps) clipped++;
          const flat = (b.advantage >= 0 && ratio > 1 + eps) || (b.advantage < 0 && ratio < 1 - eps);
          return { logProbWeight: flat ? 0 : (-ratio * b.advantage) / n, entropyWeight: -beta / n };
        },
        grad,
      );
      if (epoch === 0) meanEntropy = r.entropies.reduce((a, e) => a + e, 0) / n;
      this.adam.step(ctl.params, grad);
    }
    this.updates++;
    this.last = {
      update: this.updates,
      meanReward: batch.reduce((a, b) => a + b.reward, 0) / n,
      meanAdvantage: batch.reduce((a, b) => a + b.advantage, 0) / n,
      meanEntropy,
      clipFraction: clipped / n,
    };
  }

  state(): PolicyGradientState {
    return {
      name: this.name,
      version: 1,
      config: { ...this.config, controller: { ...this.config.controller } },
      nextId: this.nextId,
      rng: this.rng.state(),
      params: Array.from(this.controller.params),
      adam: this.adam.state(),
      baseline: this.baseline.value,
      pending: [...this.pending.values()].map((e) => ({ id: e.id, decisions: [...e.decisions], logProb: e.logProb })),
      buffer: this.buffer.map((e) => ({ ...e, decisions: [...e.decisions] })),
      observed: this.observed,
      updates: this.updates,
    };
  }

  /**
   * @param state - from {@link PolicyGradientStrategy.state} of a strategy with the same name.
   */
  load(state: PolicyGradientState): void {
    const where = `${this.name}.load`;
    const counters = checkStateHeader(where, state, this.name, 1);
    const c = state.config;
    const config = resolveConfig(where, {
      seed: c.seed,
      blocks: c.controller?.blocks,
      controller: c.controller,
      learningRate: c.learningRate,
      entropyWeight: c.entropyWeight,
      baselineDecay: c.baselineDecay,
      updateEvery: c.updateEvery,
      clipEpsilon: c.clipEpsilon,
      epochs: c.epochs,
    });
    const blocks = config.controller.blocks;
    checkRecords(where, 'pending', state.pending, blocks, ['logProb']);
    checkRecords(where, 'buffer', state.buffer, blocks, ['logProb', 'reward', 'advantage']);
    const controller = new LstmController(config.controller);
    if (!Array.isArray(state.params) || state.params.length !== controller.size) {
      throw new ValidationError(
        `${where}: expected state.params to hold ${controller.size} numbers but received ${Array.isArray(state.params) ? state.params.length : typeof state.params}`,
      );
    }
    const bad = state.params.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
    if (bad >= 0) {
      throw new ValidationError(`${where}: state.params[${bad}]: expected a finite number but received ${String(state.params[bad])}`);
    }
    controller.params.set(state.params);
    const adam = new Adam(controller.size, { learningRate: config.learningRate });
    try {
      adam.load(state.adam);
    } catch (e) {
      throw new ValidationError(`${where}: state.adam: ${(e as Error).message}`);
    }
    const baseline = new EmaBaseline(config.baselineDecay);
    baseline.load(state.baseline);
    const updates = checkInteger(state.updates, 'updates', { min: 0, where });
    this.config = config;
    this.controller = controller;
    this.adam = adam;
    this.baseline = baseline;
    ({ rng: this.rng, nextId: this.nextId, observed: this.observed } = counters);
    this.updates = updates;
    this.pending = new Map(state.pending.map((e) => [e.id, { id: e.id, decisions: [...e.decisions], logProb: e.logProb }]));
    this.buffer = state.buffer.map((e) => ({
      id: e.id,
      decisions: [...e.decisions],
      logProb: e.logProb,
      reward: e.reward,
      advantage: e.advantage,
    }));
    this.last = null;
  }
}
