/**
 * Mean softmax cross-entropy and top-1 correct count of `rows` rows of logits (float64 math),
 * for evaluation from `predict` logits (which lets the last partial batch count only its real rows).
 *
 * @param logits - at least rows × classes values
 * @param labels - rows labels
 * @param rows - rows to score
 * @param classes - logits per row
 */
export function scoreLogits(
  logits: Float32Array,
  labels: Int32Array,
  rows: number,
  classes: number,
): { lossSum: number; correct: number } {
  let lossSum = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const off = r * classes;
    let max = -Infinity;
    let arg = 0;
    for (let k = 0; k < classes; k++) {
      if (logits[off + k] > max) {
        max = logits[off + k];
        arg = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[off + k] - max);
    lossSum += Math.log(sum) + max - logits[off + labels[r]];
    if (arg === labels[r]) correct++;
  }
  return { lossSum, correct };
}
