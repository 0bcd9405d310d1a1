/**
 * The CPU backend's cache of freed host memory. A plan's activation arena is one large block; when a
 * plan is disposed of, its block is kept (up to a limit) and the next plan of a similar size gets it
 * back with its pages already mapped, instead of paying a page fault per 4 KiB on its first step.
 * A search that compiles a plan per child gains most: the shared mode's first step on a new child
 * went from ~250 ms to 80–120 ms at the 1@192 proxy (70 ms warm; see the README). Like PyTorch's
 * `torch.cuda.empty_cache()`, {@link releaseCachedMemory} gives the kept blocks back.
 */
import { binding } from '../binding.js';
import { checkInteger } from '../util/check.js';

/** What the cache holds and has done. */
export interface CachedMemory {
  /** Bytes kept for reuse (capacities of the kept blocks). */
  bytes: number;
  /** Blocks kept. */
  blocks: number;
  /** The most bytes kept: a sixteenth of the machine's memory, at most 2 GiB, unless set. */
  limit: number;
  /** Large allocations served from the cache so far. */
  reused: number;
  /** Large allocations (1 MiB or more) that took fresh memory so far. */
  fresh: number;
}

/**
 * The cache's state.
 *
 * @example
 * const before = cachedMemory().reused;
 * plan.dispose();
 * const again = await Plan.compile(graph, store, { batch: 32 }); // reuses the disposed plan's arena
 * cachedMemory().reused > before; // true
 */
export function cachedMemory(): CachedMemory {
  return binding().cachedMemory();
}

/**
 * Frees every kept block (plans alive keep their memory).
 *
 * @example
 * supernet.dispose();
 * releaseCachedMemory();
 * cachedMemory().bytes; // 0
 */
export function releaseCachedMemory(): void {
  binding().releaseCachedMemory();
}

/**
 * Sets the most bytes the cache keeps (0: keep nothing) and frees what exceeds it.
 *
 * @param bytes - a non-negative integer
 * @example
 * setCachedMemoryLimit(512 * 2 ** 20); // at most 512 MiB kept
 */
export function setCachedMemoryLimit(bytes: number): void {
  binding().setCachedMemoryLimit(checkInteger(bytes, 'bytes', { min: 0, where: 'setCachedMemoryLimit' }));
}
