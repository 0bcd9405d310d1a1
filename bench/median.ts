/** The middle of `values` (the upper middle for an even count), as the benches report their rounds. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  return [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
}
