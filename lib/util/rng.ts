/**
 * The one seeded pseudo-random generator: xoshiro128** (Blackman and Vigna, 2018) on 32-bit
 * integer math. Only integer operations (`Math.imul`, shifts, xor) touch the state, so the same
 * seed gives the same numbers on every machine; the whole state is four uint32 words, so a search
 * can save it and resume drawing exactly where it stopped.
 *
 * Two ways to seed it:
 * - `new Rng(seed)`: one integer (its low 32 bits) through splitmix32 — the controllers' generators.
 * - `Rng.stream(seed, ...keys)`: a seed and stream keys (e.g. epoch, batch index) mixed murmur3-style,
 *   then splitmix32 — the data layer's shuffles and augmentations, so any batch's draws can be made
 *   without making those of the batches before it.
 */
import { ValidationError } from '../errors.js';
import { checkInteger } from './check.js';

/** The four uint32 words of an {@link Rng}'s state, as plain numbers (JSON-serializable). */
export type RngState = [number, number, number, number];

/** 2^-53, to turn 53 random bits into a float in [0, 1). */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
const TWO_POW_32 = 4294967296;

/** murmur3's finalizer. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** murmur3's per-word mix of a key into the hash `h`. */
function mixKey(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

/** Four words of splitmix32 from `seed`. */
function splitmix32(seed: number): RngState {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    return fmix32(s);
  };
  return [next(), next(), next(), next()];
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
 * Rng.stream(42, 3, 0).shuffle(Int32Array.from([0, 1, 2, 3])); // epoch 3's order
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /**
   * @param seed - any safe integer (only its low 32 bits are used); default 0.
   */
  constructor(seed = 0) {
    checkInteger(seed, 'seed', { min: Number.MIN_SAFE_INTEGER, where: 'Rng' });
    this.set(splitmix32(seed));
  }

  /**
   * A generator for one stream of a seed: the same seed and keys give the same numbers, different
   * keys independent-looking ones.
   * @param seed - non-negative safe integer (all 53 bits are used).
   * @param keys - non-negative safe integers naming the stream (e.g. epoch, batch index).
   * @example const rng = Rng.stream(seed, epoch, 1, batch);
   */
  static stream(seed: number, ...keys: number[]): Rng {
    let h = 0x2545f491;
    for (const [i, k] of [seed, ...keys].entries()) {
      checkInteger(k, i === 0 ? 'seed' : `keys[${i - 1}]`, { min: 0, where: 'Rng.stream' });
      h = mixKey(h, k >>> 0);
      h = mixKey(h, Math.floor(k / TWO_POW_32) >>> 0);
    }
    const rng = new Rng();
    rng.set(splitmix32(fmix32(h ^ (keys.length + 1))));
    return rng;
  }

  private set(words: readonly number[]): void {
    [this.s0, this.s1, this.s2, this.s3] = words;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniform uint32 in [0, 2^32). */
  uint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    let s2 = this.s2 ^ s0;
    let s3 = this.s3 ^ s1;
    this.s1 = (s1 ^ s2) >>> 0;
    this.s0 = (s0 ^ s3) >>> 0;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    return result;
  }

  /** Next uniform float in [0, 1) with 53 random bits (two draws of {@link Rng.uint32}). */
  float(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) * TWO_POW_MINUS_53;
  }

  /**
   * Uniform integer in [0, n), without modulo bias (rejection sampling on one uint32).
   * @param n - integer in [1, 2^32].
   * @example new Rng(1).int(13); // an op index
   */
  int(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= TWO_POW_32)) checkInteger(n, 'n', { max: TWO_POW_32, where: 'Rng.int' });
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = this.uint32();
      if (u < limit) return u % n;
    }
  }

  /**
   * Uniform float in [lo, hi).
   * @param lo - lower bound.
   * @param hi - upper bound.
   */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /**
   * Shuffle an array in place (Fisher–Yates) and return it.
   * @param a - array of any length.
   * @example Rng.stream(1).shuffle(Int32Array.from([0, 1, 2, 3]));
   */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
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
    if (!Array.isArray(state) || state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
      throw new ValidationError(`Rng.load: expected 4 uint32 words but received ${JSON.stringify(state)}`);
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) {
      throw new ValidationError('Rng.load: the state must not be all zero (xoshiro128** would stay at zero)');
    }
    [this.s0, this.s1, this.s2, this.s3] = state.map((w) => w >>> 0);
  }
}
