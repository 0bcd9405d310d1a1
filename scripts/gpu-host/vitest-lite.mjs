// The few parts of vitest's API that test/engine-cuda.test.ts uses (describe, describe.skipIf, it,
// expect with its matchers), so that the very same test file runs on a GPU host that has a packed
// Node but no node_modules: `scripts/gpu-check.sh --prepare` bundles the test with esbuild, aliasing
// 'vitest' to this file. Tests run in order, one at a time, after the file is collected; the last
// line is `N passed, N failed, N skipped`, and the exit status is 1 when any failed. A matcher this
// file does not know throws, so a test never passes by asking for something that is not checked.
import { isDeepStrictEqual } from 'node:util';

const tests = [];
let prefix = [];
let skipping = false;

function collect(title, options, body) {
  const fn = typeof options === 'function' ? options : body;
  const timeout = typeof options === 'object' && options !== null ? options.timeout : undefined;
  return { title, fn, timeout };
}

/** @param {string} title */
export function describe(title, options, body) {
  const { fn } = collect(title, options, body);
  prefix.push(title);
  try {
    fn();
  } finally {
    prefix.pop();
  }
}
describe.skipIf = (condition) => (title, options, body) => {
  const was = skipping;
  skipping = skipping || Boolean(condition);
  try {
    describe(title, options, body);
  } finally {
    skipping = was;
  }
};

/** @param {string} title */
export function it(title, options, body) {
  const { fn } = collect(title, options, body);
  tests.push({ name: [...prefix, title].join(' > '), fn, skip: skipping });
}
export const test = it;

function show(v) {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.length}) [${Array.from(v.slice(0, 6)).join(', ')}${v.length > 6 ? ', …' : ''}]`;
  try {
    return typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
  } catch {
    return String(v);
  }
}

const matchers = {
  toBe: (a, b) => [Object.is(a, b), `${show(a)} to be ${show(b)}`],
  toEqual: (a, b) => [isDeepStrictEqual(a, b), `${show(a)} to equal ${show(b)}`],
  toMatch: (a, re) => [typeof a === 'string' && (re instanceof RegExp ? re.test(a) : a.includes(re)), `${show(a)} to match ${re}`],
  toBeLessThan: (a, b) => [a < b, `${a} to be less than ${b}`],
  toBeLessThanOrEqual: (a, b) => [a <= b, `${a} to be at most ${b}`],
  toBeGreaterThan: (a, b) => [a > b, `${a} to be greater than ${b}`],
  toHaveLength: (a, n) => [a != null && a.length === n, `length ${a?.length} to be ${n}`],
  toThrow: (fn, re) => {
    try {
      fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return [re === undefined || (re instanceof RegExp ? re.test(message) : message.includes(re)), `an error matching ${re}, got ${show(message)}`];
    }
    return [false, `a throw matching ${re}, got none`];
  },
};

/** @param {unknown} actual */
export function expect(actual) {
  const make = (negated) =>
    new Proxy(
      {},
      {
        get(_, name) {
          if (name === 'not') return make(!negated);
          const m = matchers[name];
          if (!m) throw new Error(`vitest-lite: matcher '${String(name)}' is not implemented here`);
          return (...args) => {
            const [ok, what] = m(actual, ...args);
            if (ok === negated) throw new Error(`expected ${negated ? 'not ' : ''}${what}`);
          };
        },
      },
    );
  return make(false);
}

async function run() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const t of tests) {
    if (t.skip) {
      skipped++;
      console.log(`  skip ${t.name}`);
      continue;
    }
    const start = Date.now();
    try {
      await t.fn();
      passed++;
      console.log(`  ok   ${t.name} (${Date.now() - start} ms)`);
    } catch (err) {
      failed++;
      console.log(`FAIL  ${t.name} (${Date.now() - start} ms)\n      ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed > 0 ? 1 : 0;
}
// After the bundled test file's top level has registered everything.
setImmediate(() => {
  run().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
});
