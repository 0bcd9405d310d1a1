/**
 * The FP32 FMA peak of this machine, the ceiling every GEMM and convolution rate is read against:
 * bench/kernels/fma_peak.cc (12 independent FMA chains in registers, timed on the thread's CPU
 * clock so other processes on the machine do not lower it), per core, times the thread count.
 * Builds the CMake target nasnet_bench_fma_peak in build-bench/ on first use.
 *
 * @example
 * const { gflops } = measureFmaPeak(2); // e.g. 232 on a 2-core AVX-512 machine
 */
import { spawnSync } from 'node:child_process';

/** The measured peak: GFLOP/s per core for AVX-512 and AVX2, and the better of the two times `threads`. */
export interface FmaPeak {
  avx512PerCore: number;
  avx2PerCore: number;
  threads: number;
  gflops: number;
}

/** Runs a command to its end and returns its stdout; a failure throws with its output. */
export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Configures build-bench/ (Ninja, CPU only, benches on) and builds `targets` in it. */
export function buildBenchTargets(targets: string[]): void {
  sh('cmake', ['-S', '.', '-B', 'build-bench', '-G', 'Ninja', '-DNASNET_BUILD_BENCH=ON', '-DNASNET_CUDA=0']);
  sh('cmake', ['--build', 'build-bench', '--target', ...targets, '-j', '2']);
}

/**
 * Measures the FMA peak (builds the probe when needed).
 *
 * @param threads - the thread count the benchmark runs with; the peak is per core times this
 */
export function measureFmaPeak(threads: number): FmaPeak {
  buildBenchTargets(['nasnet_bench_fma_peak']);
  const out = sh('./build-bench/nasnet_bench_fma_peak', []);
  const m = /avx512 ([\d.]+) GFLOP\/s\/core, avx2 ([\d.]+)/.exec(out);
  if (!m) throw new Error(`nasnet_bench_fma_peak: unexpected output '${out.trim()}'`);
  const avx512PerCore = Number(m[1]);
  const avx2PerCore = Number(m[2]);
  return { avx512PerCore, avx2PerCore, threads, gflops: Math.max(avx512PerCore, avx2PerCore) * threads };
}
