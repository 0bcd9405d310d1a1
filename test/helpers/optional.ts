/**
 * What some tests need beyond Node and the build tools: a `redis-server`, a Chromium, Debian's
 * Fashion-MNIST. On a machine without one, those tests are skipped, and the reason with the install
 * command is in the test's title (`[skipped: ...]`), on stderr, and in `npm test`'s closing lines.
 * In CI (CI set) nothing is skipped: a missing one fails the tests that need it, with the same reason.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DEBIAN_FASHION_MNIST_DIR } from '../../lib/data/catalog.js';

/** A dependency some tests need: whether to skip them, and why. */
export interface Requirement {
  /** Undefined when present; else what is missing and how to install it. */
  missing?: string;
  /** True when the tests should be skipped (missing, and not in CI). */
  skip: boolean;
  /** `title`, or `title [skipped: reason]` when skipped: the reason lands in the test report. */
  label(title: string): string;
  /** Throws the reason when missing (for `beforeAll`, so that CI fails clearly instead of skipping). */
  require(): void;
}

/** A test's title carrying why it is skipped: the one form scripts/test.mjs reads the reason from. */
export function skippedTitle(title: string, reason: string): string {
  return `${title} [skipped: ${reason}]`;
}

const announced = new Set<string>();

function requirement(missing: string | undefined): Requirement {
  const skip = missing !== undefined && !process.env.CI;
  if (skip && !announced.has(missing)) {
    announced.add(missing);
    process.stderr.write(`skipping tests: ${missing}\n`);
  }
  return {
    missing,
    skip,
    label: (title) => (skip ? skippedTitle(title, missing) : title),
    require() {
      if (missing !== undefined) throw new Error(missing);
    },
  };
}

/** The first executable named `name` on PATH, if any. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A Redis for the BullMQ tests: NASNET_TEST_REDIS (CI's server), or a `redis-server` to start. */
export function needRedis(): Requirement {
  if (process.env.NASNET_TEST_REDIS || onPath('redis-server')) return requirement(undefined);
  return requirement('redis-server is not installed (apt-get install -y redis-server), and NASNET_TEST_REDIS is not set');
}

/** A `redis-server` binary (tests that stop and restart their own server). */
export function needRedisServer(): Requirement {
  return requirement(onPath('redis-server') ? undefined : 'redis-server is not installed (apt-get install -y redis-server)');
}

/** Debian's Fashion-MNIST (the four IDX files in /usr/share/datasets/fashion-mnist). */
export function needFashionMnist(): Requirement {
  const files = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
  const missing = files.filter((f) => !existsSync(join(DEBIAN_FASHION_MNIST_DIR, f)));
  return requirement(
    missing.length === 0 ? undefined : `Fashion-MNIST is not installed (${join(DEBIAN_FASHION_MNIST_DIR, missing[0])} is missing; apt-get install -y dataset-fashion-mnist)`,
  );
}

/** The Chromium the browser tests drive: NASNET_CHROMIUM, else `chromium` (Debian) or another Chrome on PATH. */
export function chromiumPath(): string | undefined {
  const env = process.env.NASNET_CHROMIUM;
  if (env) return existsSync(env) ? env : undefined;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const p = onPath(name);
    if (p) return p;
  }
  return undefined;
}

/** A Chromium for the browser tests. */
export function needChromium(): Requirement {
  const env = process.env.NASNET_CHROMIUM;
  if (env && !existsSync(env)) return requirement(`NASNET_CHROMIUM=${env} does not exist`);
  return requirement(chromiumPath() ? undefined : 'Chromium is not installed (apt-get install -y chromium), and NASNET_CHROMIUM is not set');
}
