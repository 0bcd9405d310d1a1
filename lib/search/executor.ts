import type { ChildJob, ChildResult } from './types.js';

/**
 * Trains children somewhere: in this process, in local worker processes, or on other machines
 * (BullMQ). The search loop only sees this interface.
 */
export interface ChildExecutor {
  /** How many children it trains at once (the search keeps this many in flight). */
  readonly concurrency: number;
  /** Trains one child; resolves with its result (a child's failure is a result with `error`, not a rejection). */
  submit(job: ChildJob): Promise<ChildResult>;
  /** A short description of the queue for progress bars (e.g. "2 workers, 3 queued"), if it has one. */
  progressInfo?(): string;
  /** Stops workers; pending submissions reject. */
  close(): Promise<void>;
}
