#!/usr/bin/env node
// The test command (`npm test`): lint, type-check, native tests (plain, then every CUDA test on the
// emulated CUDA device, and, in CI, under ASan and UBSan), the node-gyp build (in CI), then vitest,
// and test/engine-cuda.test.ts again through the addon built against the emulated device.
// Ends with one line `N passed, N failed` that counts every native test, every vitest test, and each
// check above as one.
//
// Environment: NASNET_TEST_ASAN=1|0 and NASNET_TEST_GYP=1|0 force those steps on or off (default: on
// when CI is set); NASNET_TEST_EMU=0 skips the emulated CUDA device (default: on). Extra arguments go
// to vitest (e.g. `npm test -- test/cells.test.ts`).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const ci = Boolean(process.env.CI);
const flag = (name, dflt) => (process.env[name] === undefined ? dflt : process.env[name] === '1');
const vitestArgs = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const nativeRan = new Set();
const nativeSkips = new Set();

function run(cmd, args, opts = {}) {
  process.stdout.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: opts.capture ? 'pipe' : 'inherit', encoding: 'utf8', ...opts });
  if (opts.capture) process.stdout.write((r.stdout ?? '') + (r.stderr ?? ''));
  return r;
}

function check(name, ok) {
  if (ok) passed++;
  else failed++;
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${name}\n`);
}

function countNative(output) {
  const m = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/m.exec(output ?? '');
  return m ? { p: Number(m[1]), f: Number(m[2]), s: Number(m[3] ?? 0) } : null;
}

function nativeTests(label, buildDir, configureArgs, env) {
  const configure = run('cmake', ['-S', '.', '-B', buildDir, '-DNASNET_BUILD_TESTS=ON', ...configureArgs], { capture: true });
  const build = configure.status === 0 ? run('cmake', ['--build', buildDir, '--target', 'nasnet_native_tests', '-j', '2'], { capture: true }) : configure;
  if (build.status !== 0) {
    check(`${label}: build`, false);
    return;
  }
  runNative(label, join(buildDir, 'nasnet_native_tests'), [], env);
}

function runNative(label, binary, args, env) {
  const r = run(binary, args, { capture: true, env: { ...process.env, ...env } });
  const n = countNative(r.stdout);
  if (!n) {
    check(`${label}: runner printed no summary (exit ${r.status}, signal ${r.signal})`, false);
    return;
  }
  passed += n.p;
  failed += n.f;
  // Skips are counted by name at the end: a CUDA test skipped for want of a device in build/ and
  // passed on the emulated device is not skipped.
  for (const m of (r.stdout ?? '').matchAll(/^(ok {2}|skip) (\S+)$/gm)) (m[1] === 'skip' ? nativeSkips : nativeRan).add(m[2]);
  if (n.s > 0 && !/^skip \S+$/m.test(r.stdout ?? '')) skipped += n.s;  // a runner that names no skips
  if (r.status !== 0 && n.f === 0) check(`${label}: runner exited ${r.status}`, false);
}

const isSkip = (a) => a.status === 'pending' || a.status === 'skipped' || a.status === 'todo';
// A test's identity across runs: its file and titles, without the skip reason a title may carry.
const testKey = (file, a) => [file.name, ...(a.ancestorTitles ?? []), a.title].map((t) => t.replace(/ \[skipped: .+\]$/, '')).join('\u0000');

/**
 * Prints, per test file, how many tests were skipped and why (test/helpers/optional.ts and
 * test/engine-cuda.test.ts put the reason in the title), and returns how many. A test skipped in one
 * vitest run and passed in another (the CUDA tests: skipped without a device, run on the emulated
 * one) is not skipped.
 */
function reportSkips(reports) {
  const ran = new Set();
  for (const r of reports) for (const file of r.testResults ?? []) for (const a of file.assertionResults ?? []) if (!isSkip(a)) ran.add(testKey(file, a));
  const lines = [];
  let count = 0;
  for (const r of reports) {
    for (const file of r.testResults ?? []) {
      const reasons = new Map();
      for (const a of file.assertionResults ?? []) {
        if (!isSkip(a) || ran.has(testKey(file, a))) continue;
        const why = /\[skipped: (.+)\]$/.exec([...(a.ancestorTitles ?? []), a.title].find((t) => /\[skipped: .+\]$/.test(t)) ?? '')?.[1] ?? 'skipped in the test file';
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
        count++;
      }
      for (const [why, n] of reasons) lines.push(`skip ${n} in ${file.name.replace(`${root}/`, '')}: ${why}`);
    }
  }
  if (lines.length > 0) process.stdout.write(`\n${lines.join('\n')}\n`);
  return count;
}

/** One vitest run with a JSON report; adds its passes and failures, returns the report (or null). */
function vitest(label, args, env) {
  const report = join(root, '.vitest-results.json');
  rmSync(report, { force: true });
  const v = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...args], { env: { ...process.env, ...env } });
  if (!existsSync(report)) {
    check(`${label}: vitest produced no report (exit ${v.status})`, false);
    return null;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  rmSync(report, { force: true });
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  if (v.status !== 0 && r.numFailedTests === 0) check(`${label}: vitest exited ${v.status} (a file failed to load?)`, false);
  return r;
}

// 1. Lint and types.
check('lint (biome)', run('npx', ['biome', 'check', 'lib', 'test', 'bench', 'bin', 'scripts']).status === 0);
check('typecheck (tsc)', run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']).status === 0);
check('typecheck (dashboard page)', run('npx', ['tsc', '-p', 'lib/dashboard/client/tsconfig.json']).status === 0);
check('build (tsc → dist)', run('npx', ['tsc', '-p', 'tsconfig.build.json']).status === 0);
check('build (dashboard page → dist/dashboard)', run('node', ['scripts/build-dashboard.mjs']).status === 0);

// 2. Native tests. When the addon was built by cmake-js (build/CMakeCache.txt), the test runner is
// added to that build, so it reuses the compiled core and CUDA kernels: with CUDA compiled in, the
// CUDA parity tests run on a device or report "skip <test>: no CUDA device: <reason>".
if (existsSync(join(root, 'build', 'CMakeCache.txt'))) nativeTests('native tests', 'build', [], {});
else nativeTests('native tests', 'build-tests', ['-G', 'Ninja', '-DNASNET_CUDA=0'], {});

// 2b. Every CUDA test on the emulated CUDA device (native/emu): native/cuda built with the host
// compiler and run on the CPU with CUDA's semantics, so the parity tests run instead of skipping.
// Three times: threads in forward order, in reverse order (each shows races the other hides), and
// forward with shared and new memory filled with 3.4e38 instead of NaN (which max reductions would
// ignore). build-emu/ also holds an addon built against it, for vitest
// (NASNET_ADDON=build-emu/Release/nasnet.node). Without Boost.Context: a visible skip with the fix
// (a failure in CI).
let emuBuilt = false;
if (flag('NASNET_TEST_EMU', true)) {
  const b = run('npx', ['cmake-js', 'compile', '--out', 'build-emu', '--CDNASNET_CUDA_EMULATED=ON', '--CDNASNET_BUILD_TESTS=ON', '-p', '2'], { capture: true });
  emuBuilt = b.status === 0;
  if (b.status === 0) {
    for (const [order, poison] of [['forward', 'nan'], ['reverse', 'nan'], ['forward', 'huge']]) {
      runNative(`CUDA tests on the emulated device (${order} order, ${poison} poison)`, join(root, 'build-emu', 'nasnet_native_tests'), ['cuda_'], {
        NASNET_EMU_ORDER: order,
        NASNET_EMU_POISON: poison,
      });
    }
  } else if (/needs Boost\.Context/.test(`${b.stdout}${b.stderr}`)) {
    const why = 'CUDA tests on the emulated device: Boost.Context not found (apt-get install libboost-context-dev)';
    if (ci) {
      check(why, false);  // CI installs it (.ci/run): its absence there is a failure, not a skip
    } else {
      skipped++;
      process.stdout.write(`skip ${why}\n`);
    }
  } else {
    check('CUDA tests on the emulated device: build', false);
  }
}

if (flag('NASNET_TEST_ASAN', ci)) {
  nativeTests('native tests (ASan+UBSan)', 'build-asan', ['-G', 'Ninja', '-DNASNET_CUDA=0', '-DNASNET_SANITIZE=ON', '-DCMAKE_BUILD_TYPE=RelWithDebInfo'], {
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  });
}

// 3. The node-gyp build of the same sources (in a scratch copy, so it does not replace build/).
if (flag('NASNET_TEST_GYP', ci)) {
  const dir = mkdtempSync(join(tmpdir(), 'nasnet-gyp-'));
  for (const p of ['binding.gyp', 'native', 'scripts', 'package.json']) cpSync(join(root, p), join(dir, p), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  // npm's bundled node-gyp builds offline against Node's installed headers (TOOLCHAIN.md).
  const npmPackage = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  const gyp = join(npmPackage, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const b = existsSync(gyp) && run('node', [gyp, 'rebuild', '--nodedir=/usr', '--jobs', '2'], { cwd: dir, capture: true });
  const loaded = b && b.status === 0 && run('node', ['-e', 'const i=require("./build/Release/nasnet.node").info();if(!i.cpu.threads)process.exit(1);console.log("gyp addon:",i.cpu)'], { cwd: dir }).status === 0;
  check('node-gyp build loads', Boolean(loaded));
  rmSync(dir, { recursive: true, force: true });
}

// 4. vitest; then the CUDA plan tests through the addon built against the emulated device (2b).
const reports = [vitest('vitest', vitestArgs, {})];
const emuAddon = join(root, 'build-emu', 'Release', 'nasnet.node');
if (emuBuilt && vitestArgs.length === 0) {
  if (existsSync(emuAddon)) reports.push(vitest('vitest on the emulated CUDA device', ['test/engine-cuda.test.ts'], { NASNET_ADDON: emuAddon }));
  else check(`vitest on the emulated CUDA device: ${emuAddon} was not built`, false);
}
skipped += reportSkips(reports.filter(Boolean));
const nativeSkipped = [...nativeSkips].filter((name) => !nativeRan.has(name));
if (nativeSkipped.length > 0) process.stdout.write(`\nnative tests skipped in every run: ${nativeSkipped.join(', ')}\n`);
skipped += nativeSkipped.length;

process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed === 0 ? 0 : 1);
