/**
 * The data layer's own seeded PRNG: xoshiro128** (Blackman and Vigna, 2018) on 32-bit integer
 * math, with its state derived from a seed and a list of stream keys (for example the epoch and
 * the batch index) through a murmur3-style mix and splitmix32. Only integer operations
 * (`Math.imul`, shifts, xor) touch the state, so the same seed and keys give the same numbers on
 * every machine, and any batch's draws can be made without making those of the batches before it.
 */
import { ValidationError } from '../errors.js';

/** 2^-32, to turn 32 random bits into a float in [0, 1). */
const TWO_POW_MINUS_32 = 1 / 4294967296;

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function mixKey(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

function checkKey(what: string, k: number): void {
  if (!Number.isSafeInteger(k) || k < 0) {
    throw new ValidationError(`Expected a non-negative safe integer for ${what} but received ${String(k)}`);
  }
}

/**
 * A seeded stream of pseudo-random numbers for shuffling and augmentation.
 *
 * @example
 * const rng = new DataRng(42, 3, 0); // seed 42, epoch 3, stream 0
 * rng.int(10); // a uniform integer in [0, 10)
 */
export class DataRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * @param seed - non-negative safe integer (all 53 bits are used).
   * @param keys - non-negative safe integers naming the stream (e.g. epoch, batch index).
   */
  constructor(seed: number, ...keys: number[]) {
    checkKey('seed', seed);
    let h = 0x2545f491;
    for (const [i, k] of [seed, ...keys].entries()) {
      if (i > 0) checkKey(`stream key ${i - 1}`, k);
      h = mixKey(h, k >>> 0);
      h = mixKey(h, Math.floor(k / 4294967296) >>> 0);
    }
    h = fmix32(h ^ (keys.length + 1));
    // splitmix32 from h fills the four state words.
    const words: number[] = [];
    let s = h;
    for (let i = 0; i < 4; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      words.push(fmix32(s));
    }
    this.s0 = words[0];
    this.s1 = words[1];
    this.s2 = words[2];
    this.s3 = words[3];
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

  /** Next uniform float in [0, 1) (32 random bits; exact in float64). */
  float(): number {
    return this.uint32() * TWO_POW_MINUS_32;
  }

  /**
   * Uniform integer in [0, n), without modulo bias (rejection sampling).
   * @param n - integer in [1, 2^32].
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new ValidationError(`Expected an integer in [1, 2^32] for n but received ${String(n)}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const u = this.uint32();
      if (u < limit) return u % n;
    }
  }

  /**
   * Shuffle an array in place (Fisher–Yates) and return it.
   * @param a - array of any length.
   * @example new DataRng(1).shuffle(Int32Array.from([0, 1, 2, 3]));
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
}
