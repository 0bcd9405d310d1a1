/**
 * Adam (Kingma and Ba, 2015) over one flat Float64Array of parameters, with an exact save/restore.
 */
import { ValidationError } from '../errors.js';
import { checkInteger, checkNumber } from '../util/check.js';
import { NASNET_CONTROLLER } from './paper.js';

/** Adam hyperparameters. */
export interface AdamOptions {
  /** Step size; default {@link NASNET_CONTROLLER}.learningRate, 0.00035. */
  learningRate?: number;
  /** First-moment decay; default 0.9. */
  beta1?: number;
  /** Second-moment decay; default 0.999. */
  beta2?: number;
  /** Denominator fuzz; default 1e-8. */
  epsilon?: number;
}

/** Saved Adam state (JSON-serializable). */
export interface AdamState {
  step: number;
  m: number[];
  v: number[];
}

/**
 * Adam optimizer. {@link Adam.step} *minimizes*: it moves against the gradient.
 *
 * @example
 * const opt = new Adam(params.length, { learningRate: 0.00035 });
 * opt.step(params, grad); // params -= lr · m̂ / (√v̂ + ε)
 */
export class Adam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private m: Float64Array;
  private v: Float64Array;
  private t = 0;

  /**
   * @param size - number of parameters.
   * @param options - {@link AdamOptions}.
   */
  constructor(size: number, options: AdamOptions = {}) {
    const where = 'Adam';
    checkInteger(size, 'size', { min: 0, where });
    this.learningRate = checkNumber(options.learningRate ?? NASNET_CONTROLLER.learningRate, 'learningRate', { min: 0, minOpen: true, where });
    this.beta1 = checkNumber(options.beta1 ?? 0.9, 'beta1', { min: 0, max: 1, maxOpen: true, where });
    this.beta2 = checkNumber(options.beta2 ?? 0.999, 'beta2', { min: 0, max: 1, maxOpen: true, where });
    this.epsilon = checkNumber(options.epsilon ?? 1e-8, 'epsilon', { min: 0, minOpen: true, where });
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  /** Number of steps taken. */
  get steps(): number {
    return this.t;
  }

  /**
   * One update: `params -= lr · m̂ / (√v̂ + ε)`.
   * @param params - parameters, updated in place.
   * @param grad - gradient of the loss to minimize, same length.
   */
  step(params: Float64Array, grad: Float64Array): void {
    const n = this.m.length;
    if (params.length !== n || grad.length !== n) {
      throw new ValidationError(
        `Adam.step: expected params and grad of length ${n} but received ${params.length} and ${grad.length}`,
      );
    }
    this.t++;
    const { beta1: b1, beta2: b2, epsilon: eps, m, v } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const lr = this.learningRate;
    for (let i = 0; i < n; i++) {
      const g = grad[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      params[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  }

  /** The moments and step count, to save. */
  state(): AdamState {
    return { step: this.t, m: Array.from(this.m), v: Array.from(this.v) };
  }

  /**
   * Restore a state saved by {@link Adam.state}.
   * @param state - moments of this optimizer's size.
   */
  load(state: AdamState): void {
    const n = this.m.length;
    if (
      !state ||
      !Number.isInteger(state.step) ||
      state.step < 0 ||
      !Array.isArray(state.m) ||
      !Array.isArray(state.v) ||
      state.m.length !== n ||
      state.v.length !== n
    ) {
      throw new ValidationError(
        `Adam.load: expected { step: integer >= 0, m, v: number[${n}] } but received step ${String(state?.step)}, m length ${String(state?.m?.length)}, v length ${String(state?.v?.length)}`,
      );
    }
    this.t = state.step;
    this.m = Float64Array.from(state.m);
    this.v = Float64Array.from(state.v);
  }
}
