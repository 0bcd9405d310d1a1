/**
 * How fast one core reads what the other core has just written, against what it wrote itself:
 * bench/kernels/core_to_core.cc (two threads, a 256 KiB buffer, the median of 3000 rounds). A batch-1
 * plan's node workers hand tensors between cores on every edge between them, so batch-1 rates follow
 * this: on the 2-vCPU machines here it changes with where the host places the vCPUs (cross 0.3 of a
 * local read in some runs, 0.95 in others), for ONNX Runtime as for us. Benches print it next to the
 * FMA peak so that every figure says which state the machine was in. Builds the CMake target
 * nasnet_bench_core_to_core in build-bench/ on first use.
 *
 * @example
 * const { crossShare } = measureCoreToCore(); // e.g. 0.31, or 0.95
 */
import { buildBenchTargets, sh } from './fma-peak.js';

/** Read bandwidths in GB/s of a buffer written by the reading core (local) and by the other one (cross). */
export interface CoreToCore {
  localGBs: number;
  crossGBs: number;
  /** crossGBs / localGBs */
  crossShare: number;
}

/** Measures the core-to-core read bandwidth (builds the probe when needed). */
export function measureCoreToCore(): CoreToCore {
  buildBenchTargets(['nasnet_bench_core_to_core']);
  const out = sh('./build-bench/nasnet_bench_core_to_core', []);
  const m = /local ([\d.]+) GB\/s, cross ([\d.]+) GB\/s \(([\d.]+) of local\)/.exec(out);
  if (!m) throw new Error(`nasnet_bench_core_to_core: unexpected output '${out.trim()}'`);
  return { localGBs: Number(m[1]), crossGBs: Number(m[2]), crossShare: Number(m[3]) };
}
