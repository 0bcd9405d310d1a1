/**
 * An endless stream of training batches that can start at any step: step s is batch
 * s mod b of epoch ⌊s / b⌋ (b batches per epoch) of a seeded loader, so a search resumed at step s
 * sees exactly the batches an uninterrupted one would have.
 */
import type { Loader } from '../data/loader.js';
import type { Batch } from '../data/types.js';

/**
 * Batches of a loader, epoch after epoch, from step `start` on.
 *
 * @example
 * const stream = new BatchStream(createLoader(ds.train, { batchSize: 32, shuffle: true, seed: 1, dropLast: true }), 1000);
 * const batch = await stream.next(); // batch 1000 mod b of epoch ⌊1000 / b⌋
 * await stream.close();
 */
export class BatchStream {
  private it: AsyncGenerator<Batch, void, undefined> | undefined;
  private epoch: number;
  private from: number;

  /**
   * @param loader - a loader with a fixed number of batches per epoch (dropLast)
   * @param start - the step of the first batch
   */
  constructor(
    private readonly loader: Loader,
    start: number,
  ) {
    this.epoch = Math.floor(start / loader.batchesPerEpoch);
    this.from = start % loader.batchesPerEpoch;
  }

  /** The next batch. */
  async next(): Promise<Batch> {
    for (;;) {
      this.it ??= this.loader.epoch(this.epoch, this.from);
      const r = await this.it.next();
      if (!r.done) return r.value;
      this.it = undefined;
      this.epoch++;
      this.from = 0;
    }
  }

  /** Stops the current epoch's prefetching. */
  async close(): Promise<void> {
    await this.it?.return();
    this.it = undefined;
  }
}
