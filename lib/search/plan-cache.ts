/**
 * A least-recently-used cache of compiled plans with a bound on their count and their memory:
 * compiling a child's plan costs tens of milliseconds and its activation arena megabytes, so a
 * weight-sharing search keeps the plans of the children it meets again and disposes of the others.
 */
import { checkInteger } from '../util/check.js';

/** Bounds of a {@link PlanCache}. */
export interface PlanCacheOptions {
  /** Most plans held; default 32. */
  maxPlans?: number;
  /** Most bytes held (as each entry reports them); default 1 GiB. The newest entry is kept even when it alone exceeds this. */
  maxBytes?: number;
}

/** What a {@link PlanCache} has done so far. */
export interface PlanCacheStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that compiled. */
  misses: number;
  /** hits / (hits + misses), 0 before the first lookup. */
  hitRate: number;
  /** Entries disposed of to stay within the bounds. */
  evictions: number;
  /** Milliseconds spent compiling (building the IR and compiling the plan). */
  compileMs: number;
  /** Entries held now. */
  entries: number;
  /** Bytes held now. */
  bytes: number;
}

interface Entry<V> {
  value: V;
  bytes: number;
}

/**
 * LRU cache of disposable values (plans) by key, bounded by count and bytes; evicted values are
 * disposed.
 *
 * @example
 * const cache = new PlanCache<Plan>({ maxPlans: 16 });
 * const plan = cache.get(key, () => {
 *   const p = Plan.compileSync(graph, store, { batch: 32 });
 *   return { value: p, bytes: p.description.activationBytes };
 * });
 * cache.stats().hitRate;
 * cache.clear(); // disposes of every plan
 */
export class PlanCache<V extends { dispose(): void }> {
  private readonly maxPlans: number;
  private readonly maxBytes: number;
  private readonly entries = new Map<string, Entry<V>>();
  private held = 0;
  private counts = { hits: 0, misses: 0, evictions: 0, compileMs: 0 };

  /** @param options - count and byte bounds */
  constructor(options: PlanCacheOptions = {}) {
    this.maxPlans = checkInteger(options.maxPlans ?? 32, 'maxPlans');
    this.maxBytes = checkInteger(options.maxBytes ?? 2 ** 30, 'maxBytes');
  }

  /**
   * The value under `key`, made (and timed) by `make` when absent; the least recently used entries
   * are disposed of until the bounds hold again.
   *
   * @param key - identifies the value (e.g. the child's genotype and the plan's kind)
   * @param make - compiles the value and says how many bytes it holds
   */
  get(key: string, make: () => { value: V; bytes: number }): V {
    const hit = this.entries.get(key);
    if (hit) {
      this.counts.hits++;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const t0 = performance.now();
    const made = make();
    this.counts.compileMs += performance.now() - t0;
    this.counts.misses++;
    this.entries.set(key, made);
    this.held += made.bytes;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= 1 || (this.entries.size <= this.maxPlans && this.held <= this.maxBytes)) break;
      this.entries.delete(k);
      this.held -= e.bytes;
      this.counts.evictions++;
      e.value.dispose();
    }
    return made.value;
  }

  /** Counts of hits, misses and evictions, compile time, and what is held now. */
  stats(): PlanCacheStats {
    const { hits, misses } = this.counts;
    return { ...this.counts, hitRate: hits + misses > 0 ? hits / (hits + misses) : 0, entries: this.entries.size, bytes: this.held };
  }

  /** Disposes of every entry (the counts stay). */
  clear(): void {
    for (const e of this.entries.values()) e.value.dispose();
    this.entries.clear();
    this.held = 0;
  }
}
