/**
 * Scale domains for the plots where Plot's own would read badly: one child (or children with equal
 * values) gives a zero-width domain, which Plot draws with one tick labelled to six decimals
 * (`0.608000`, wider than the axis margin). Pure (no DOM), so the tests run it in Node.
 */

/**
 * A domain with room around `values` when they are all equal (5% of the value, at least 0.01 on
 * each side), else undefined (Plot's extent of the data is fine).
 *
 * @param values - the plotted values (non-finite ones are ignored)
 * @example
 * roomyDomain([0.608]);       // [0.5776, 0.6384]
 * roomyDomain([0.6, 0.7]);    // undefined
 */
export function roomyDomain(values: readonly number[]): [number, number] | undefined {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return undefined;
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (hi - lo > 1e-9 * Math.max(1, Math.abs(hi))) return undefined;
  const d = Math.max(Math.abs(lo) * 0.05, 0.01);
  return [lo - d, hi + d];
}
