import { SingleBar } from 'cli-progress';

/** A progress bar on stderr with loss, accuracy, images/s and ETA. */
export interface ProgressReporter {
  update(step: number, values: { epoch: number; epochs: number; loss: number; accuracy: number }): void;
  /** Prints a line above the bar. */
  log(line: string): void;
  stop(): void;
}

/**
 * Creates a training progress bar (cli-progress) writing to stderr.
 *
 * @param total - steps of the whole run
 * @param start - steps already done (a resumed run)
 * @param batchSize - images per step, for images/s
 */
export function createProgress(total: number, start = 0, batchSize = 1): ProgressReporter {
  const bar = new SingleBar(
    {
      format: 'epoch {epoch}/{epochs} |{bar}| {value}/{total} steps | loss {loss} | acc {acc}% | {ips} img/s | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: false,
      etaBuffer: 50,
      fps: 5,
    },
  );
  const t0 = performance.now();
  let images = 0;
  let lastStep = start;
  let payload: Record<string, string | number> = { epoch: 1, epochs: 1, loss: '-', acc: '-', ips: '-' };
  bar.start(total, start, payload);
  return {
    update(step, v) {
      images += (step - lastStep) * batchSize;
      lastStep = step;
      const secs = (performance.now() - t0) / 1000;
      payload = {
        epoch: v.epoch,
        epochs: v.epochs,
        loss: v.loss.toFixed(4),
        acc: (100 * v.accuracy).toFixed(2),
        ips: secs > 0 ? (images / secs).toFixed(1) : '-',
      };
      bar.update(step, payload);
    },
    log(line) {
      bar.stop();
      process.stderr.write(`${line}\n`);
      bar.start(total, lastStep, payload);
    },
    stop() {
      bar.stop();
    },
  };
}
