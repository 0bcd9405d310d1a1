/**
 * The wall-clock budget of a search call (`maxSeconds`), one rule for every mode: a unit of work
 * (a child's training or one of its rungs; a shared-weight step, a score, a final re-score, a
 * standalone retraining) starts only when it is expected to end before the deadline, together with
 * the work the mode must still do after it (the shared mode's final phase). Expectations are the mean
 * wall clock of the units of the same kind already finished in this call, leaving out the first once
 * there are others (it pays one-time costs: a worker process's start and data loading); a kind not
 * yet timed is expected to take what its caller estimates (or nothing). Units in flight always
 * finish, so a call overruns its budget by at most the error of those estimates.
 */

/** A deadline and the mean duration of each kind of unit timed so far. */
export class TimeBudget {
  private readonly sums = new Map<string, { first: number; seconds: number; count: number; min: number }>();

  /** @param deadline - `performance.now()` by which the call should end; Infinity: no budget */
  constructor(readonly deadline: number) {}

  /**
   * Records a finished unit.
   * @param kind - what it was ('child', 'rung 1', 'step', 'score', ...)
   * @param seconds - its wall clock
   */
  record(kind: string, seconds: number): void {
    const s = this.sums.get(kind);
    if (!s) this.sums.set(kind, { first: seconds, seconds: 0, count: 0, min: seconds });
    else {
      s.seconds += seconds;
      s.count++;
      s.min = Math.min(s.min, seconds);
    }
  }

  /** Mean seconds of the units of `kind` recorded so far but the first (the first alone: its time), or undefined before the first. */
  mean(kind: string): number | undefined {
    const s = this.sums.get(kind);
    if (!s) return undefined;
    return s.count ? s.seconds / s.count : s.first;
  }

  /** The shortest unit of `kind` recorded so far, the first included, or undefined before the first. */
  min(kind: string): number | undefined {
    return this.sums.get(kind)?.min;
  }
  /** How many units of `kind` were recorded so far, the first included. */
  count(kind: string): number {
    const s = this.sums.get(kind);
    return s ? s.count + 1 : 0;
  }
  /**
   * Whether work expected to take `seconds` ends before the deadline.
   * @param seconds - the unit's expected duration plus whatever must follow it
   */
  fits(seconds: number): boolean {
    return performance.now() + 1000 * seconds <= this.deadline;
  }

  /**
   * Times a unit of work and records it under `kind`.
   * @returns what `work` returned
   */
  async time<T>(kind: string, work: () => Promise<T>): Promise<T> {
    const t = performance.now();
    const r = await work();
    this.record(kind, (performance.now() - t) / 1000);
    return r;
  }
}
