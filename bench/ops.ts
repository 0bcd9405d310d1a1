/**
 * Forward + backward time of each CPU kernel at NASNet shapes (batch 64, C 32–128, 32×32 and 16×16),
 * with GFLOP/s or GB/s, side by side with PyTorch CPU (2 threads) on the same shapes.
 *
 *   npx tsx bench/ops.ts [--reps 5] [--no-torch] [--json]
 *
 * Builds bench/kernels/ops_bench.cc (CMake target nasnet_bench_ops in build-bench/), runs it, runs
 * bench/torch_ops.py, and prints a table: ours fwd/bwd ms, rate, PyTorch fwd/bwd ms, speed-up.
 * sgemm's rate is also given as a share of the FP32 FMA peak, measured here by bench/kernels/fma_peak.cc
 * (independent FMA chains in registers, per core, times the thread count).
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { buildBenchTargets, measureFmaPeak, sh } from './fma-peak.js';

const { values: a } = parseArgs({ options: { reps: { type: 'string', default: '5' }, 'no-torch': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });


buildBenchTargets(['nasnet_bench_ops']);
const threads = Number(process.env.OMP_NUM_THREADS ?? availableParallelism());
const PEAK_GFLOPS = measureFmaPeak(threads).gflops;
type Row = { op: string; shape: string; fwdMs: number; bwdMs: number; gflops?: number; gbps?: number };
const parse = (s: string): Row[] => s.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const ours = parse(sh('./build-bench/nasnet_bench_ops', [a.reps!]));
const torch = a['no-torch'] ? [] : parse(sh('/usr/bin/python3', ['bench/torch_ops.py', a.reps!, '2']));
const key = (r: Row) => `${r.op}|${r.shape}`;
const theirs = new Map(torch.map((r) => [key(r), r]));
const rows = ours.map((r) => {
  const t = theirs.get(key(r));
  const total = r.fwdMs + r.bwdMs;
  return {
    ...r,
    rate: r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : `${(r.gbps ?? 0).toFixed(1)} GB/s`,
    torchFwdMs: t?.fwdMs,
    torchBwdMs: t?.bwdMs,
    speedup: t ? (t.fwdMs + t.bwdMs) / total : undefined,
  };
});
const gemm = rows.filter((r) => r.op === 'sgemm').map((r) => ({ shape: r.shape, gflops: r.gflops!, shareOfPeak: r.gflops! / PEAK_GFLOPS }));
if (a.json) {
  process.stdout.write(`${JSON.stringify({ peakGflops: PEAK_GFLOPS, gemm, ops: rows })}\n`);
} else {
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`${pad('op', 16)}${pad('shape', 34)}${pad('fwd ms', 10)}${pad('bwd ms', 10)}${pad('rate', 18)}${pad('torch fwd', 11)}${pad('torch bwd', 11)}speed-up`);
  for (const r of rows) {
    console.log(
      `${pad(r.op, 16)}${pad(r.shape, 34)}${pad(r.fwdMs.toFixed(3), 10)}${pad(r.bwdMs.toFixed(3), 10)}${pad(r.rate, 18)}${pad(r.torchFwdMs?.toFixed(3) ?? '-', 11)}${pad(r.torchBwdMs?.toFixed(3) ?? '-', 11)}${r.speedup ? `${r.speedup.toFixed(2)}×` : '-'}`,
    );
  }
  for (const g of gemm) console.log(`sgemm ${g.shape}: ${g.gflops.toFixed(1)} GFLOP/s = ${(100 * g.shareOfPeak).toFixed(0)}% of the measured ${PEAK_GFLOPS.toFixed(0)} GFLOP/s FMA peak (${threads} threads)`);
}
