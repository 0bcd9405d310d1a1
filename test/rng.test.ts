import { describe, expect, it } from 'vitest';
import { Rng } from '../lib/util/rng.js';

describe('Rng (xoshiro128**, the one seeded generator)', () => {
  it('matches the reference C implementation from state [1, 2, 3, 4]', () => {
    // Values printed by Blackman and Vigna's xoshiro128starstar.c seeded with s = {1, 2, 3, 4}.
    const rng = new Rng(0);
    rng.load([1, 2, 3, 4]);
    const got = Array.from({ length: 1000 }, () => rng.uint32());
    expect(got.slice(0, 6)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
    expect(got[999]).toBe(3170714187);
  });

  it('gives pinned numbers for a seed, and for a seed and stream keys (the same on every machine)', () => {
    const a = new Rng(123);
    expect([a.uint32(), a.uint32(), a.uint32()]).toEqual([3146710351, 1913850085, 2160143029]);
    expect(new Rng(-5).float()).toBe(0.3280711355131102);
    const r = Rng.stream(42, 3, 0);
    expect([r.uint32(), r.uint32(), r.uint32()]).toEqual([3558621544, 1238048039, 2857631180]);
    expect(Rng.stream(2 ** 40 + 7, 1).uint32()).toBe(1620089916); // all 53 bits of the seed count
    expect([...Rng.stream(7, 0, 0).shuffle(Int32Array.from({ length: 10 }, (_, i) => i))]).toEqual([6, 2, 4, 0, 8, 7, 3, 9, 5, 1]);
    expect(Rng.stream(42, 3, 1).uint32()).not.toBe(3558621544);
  });

  it('resumes exactly from state() and gives floats in [0, 1)', () => {
    const a = new Rng(123);
    for (let i = 0; i < 10; i++) a.float();
    const saved = a.state();
    const x = Array.from({ length: 20 }, () => a.float());
    const b = new Rng(999);
    b.load(JSON.parse(JSON.stringify(saved)));
    expect(Array.from({ length: 20 }, () => b.float())).toEqual(x);
    for (const v of x) expect(v >= 0 && v < 1).toBe(true);
  });

  it('draws integers without bias', () => {
    const r = Rng.stream(5);
    const hist = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) hist[r.int(6)]++;
    for (const h of hist) expect(Math.abs(h - 10000)).toBeLessThan(500); // ~5 sigma
    const counts = new Array(13).fill(0);
    const a = new Rng(123);
    for (let i = 0; i < 13000; i++) counts[a.int(13)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(new Rng(1).int(2 ** 32)).toBeLessThan(2 ** 32);
  });

  it('rejects bad seeds, keys, bounds and states, naming the field', () => {
    expect(() => new Rng(1.5)).toThrow('Rng: expected integer for seed but received 1.5 of type number');
    expect(() => Rng.stream(-1)).toThrow('Rng.stream: expected non-negative integer for seed but received -1 of type number');
    expect(() => Rng.stream(1, 0.5)).toThrow('Rng.stream: expected non-negative integer for keys[0] but received 0.5 of type number');
    expect(() => new Rng(1).int(0)).toThrow('Rng.int: expected integer in [1, 4294967296] for n but received 0 of type number');
    expect(() => new Rng(1).load([0, 0, 0, 0])).toThrow('must not be all zero');
    expect(() => new Rng(1).load([1, 2, 3])).toThrow('Rng.load: expected 4 uint32 words but received [1,2,3]');
  });
});
