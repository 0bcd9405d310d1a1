import type { ChildJob, ChildResult } from './types.js';

/**
 * Trains children somewhere: in this process, in local worker processes, or on other machines
 * (BullMQ). The search loop only sees this interface.
 */
export interface ChildExecutor {
  /** How many children it trains at once (the search keeps this many in flight). */
  readonly concurrency: number;
  /**
   * Trains one child; resolves with its result (a child's failure is a result with `error`, not a
   * rejection). When `signal` aborts, an executor that supports it stops the child within a step and
   * rejects with a {@link ChildAbortedError} (nothing is recorded; the child can be trained again).
   */
  submit(job: ChildJob, signal?: AbortSignal): Promise<ChildResult>;
  /** A short description of the queue for progress bars (e.g. "2 workers, 3 queued"), if it has one. */
  progressInfo?(): string;
  /** Stops workers; pending submissions reject. */
  close(): Promise<void>;
}

/** A child stopped on request (its `submit` signal aborted) before it finished: not a result. */
export class ChildAbortedError extends Error {
  override readonly name = 'ChildAbortedError';
}
