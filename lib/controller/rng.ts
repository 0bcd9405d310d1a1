/**
 * A small deterministic PRNG: xoshiro128** (Blackman and Vigna, 2018) on 32-bit integer math,
 * seeded through splitmix32. Its whole state is four uint32 words, so a search can save it and
 * resume drawing exactly where it stopped.
 */
import { ValidationError } from '../errors.js';

/** The four uint32 words of an {@link Rng}'s state, as plain numbers (JSON-serializable). */
export type RngState = [number, number, number, number];

/** 2^-53, to turn 53 random bits into a float in [0, 1). */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Seeded pseudo-random numbers with an exact save/restore.
 *
 * @example
 * const rng = new Rng(42);
 * const saved = rng.state();
 * const a = rng.float();
 * rng.load(saved);
 * rng.float() === a; // true
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /**
   * @param seed - any integer (only its low 32 bits are used); default 0.
   */
  constructor(seed = 0) {
    if (!Number.isInteger(seed)) {
      throw new ValidationError(`Rng: expected an integer seed but received ${String(seed)}`);
    }
    const next = splitmix32(seed);
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniform uint32 in [0, 2^32). */
  uint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const m = Math.imul(s1, 5);
    const rotated = (m << 7) | (m >>> 25);
    const result = Math.imul(rotated, 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    let n2 = (s2 ^ s0) >>> 0;
    let n3 = (s3 ^ s1) >>> 0;
    const n1 = (s1 ^ n2) >>> 0;
    const n0 = (s0 ^ n3) >>> 0;
    n2 = (n2 ^ t) >>> 0;
    n3 = ((n3 << 11) | (n3 >>> 21)) >>> 0;
    this.s0 = n0;
    this.s1 = n1;
    this.s2 = n2;
    this.s3 = n3;
    return result;
  }

  /** Next uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) * TWO_POW_MINUS_53;
  }

  /**
   * Uniform integer in [0, n).
   * @param n - positive integer upper bound (exclusive).
   * @example new Rng(1).int(13); // an op index
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new ValidationError(`Rng.int: expected a positive integer n but received ${String(n)}`);
    }
    return Math.floor(this.float() * n);
  }

  /**
   * Uniform float in [lo, hi).
   * @param lo - lower bound.
   * @param hi - upper bound.
   */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** The current state, to save. */
  state(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /**
   * Restore a state saved by {@link Rng.state}.
   * @param state - four uint32 words, not all zero.
   */
  load(state: readonly number[]): void {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)
    ) {
      throw new ValidationError(`Rng.load: expected 4 uint32 words but received ${JSON.stringify(state)}`);
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) {
      throw new ValidationError('Rng.load: the state must not be all zero (xoshiro128** would stay at zero)');
    }
    this.s0 = state[0] >>> 0;
    this.s1 = state[1] >>> 0;
    this.s2 = state[2] >>> 0;
    this.s3 = state[3] >>> 0;
  }
}
