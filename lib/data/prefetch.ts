/** A bounded, ordered prefetch queue over numbered async jobs. */

/**
 * Yield `make(0) … make(count − 1)` in order, keeping up to `depth` jobs started ahead of the one
 * the consumer holds, so producing batch i + 1 overlaps the consumer's work on batch i. A failed
 * job throws when its turn comes; jobs started ahead are never left as unhandled rejections.
 *
 * @param count - number of jobs.
 * @param make - starts job i.
 * @param depth - jobs started ahead (0 = start each when asked).
 * @param onStop - called when the consumer stops early or the sequence ends.
 * @example
 * for await (const b of prefetchOrdered(10, (i) => makeBatch(i), 2)) await train(b);
 */
export async function* prefetchOrdered<T>(
  count: number,
  make: (i: number) => Promise<T>,
  depth: number,
  onStop?: () => void,
): AsyncGenerator<T, void, undefined> {
  const pending: Promise<T>[] = [];
  let next = 0;
  try {
    while (next < count || pending.length > 0) {
      while (next < count && pending.length <= depth) {
        const p = make(next++);
        p.catch(() => undefined);
        pending.push(p);
      }
      yield await pending.shift()!;
    }
  } finally {
    onStop?.();
  }
}
