import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { binding } from './binding.js';
import type { NativeInfo } from './binding-types.js';
import { packageRoot } from './util/package-root.js';

/** A compute backend a plan can run on. */
export type BackendName = 'cpu' | 'cuda';

/** What a user may ask for: a backend, or 'auto' (CUDA when a device is usable, else the CPU). */
export const BACKEND_CHOICES = ['cpu', 'cuda', 'auto'] as const;

/** One of {@link BACKEND_CHOICES}. */
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** What this installation can run on: the answer of {@link backends}. */
export interface BackendsReport {
  /** nasnet's package version. */
  packageVersion: string;
  /** The version the native addon was built from (equal to packageVersion unless the build is stale). */
  addonVersion: string;
  /**
   * Backends that can run plans now, best first: `['cuda', 'cpu']` when CUDA kernels are compiled in
   * and a device is usable (`backend: 'auto'` then takes CUDA), else `['cpu']`; the devices, the
   * compiled CUDA kernels and cuDNN are reported in `cuda` and `cudnn`.
   */
  available: BackendName[];
  cpu: NativeInfo['cpu'];
  cuda: NativeInfo['cuda'];
  cudnn: NativeInfo['cudnn'];
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Reports what this installation can do: package and addon versions, the CPU's SIMD level and
 * thread count, whether CUDA was compiled and for which architectures, the CUDA devices found, and
 * whether cuDNN can be loaded. Never throws for a missing GPU, driver or cuDNN: each says why.
 *
 * @example
 * const report = backends();
 * console.log(report.available); // ['cpu'] on a machine without a GPU
 */
export function backends(): BackendsReport {
  const info = binding().info();
  const available: BackendName[] = info.cuda.compiled && info.cuda.devices.length > 0 ? ['cuda', 'cpu'] : ['cpu'];
  return {
    packageVersion: packageVersion(),
    addonVersion: info.version,
    available,
    cpu: info.cpu,
    cuda: info.cuda,
    cudnn: info.cudnn,
  };
}

/**
 * Formats a {@link BackendsReport} as the text `nasnet info` prints.
 *
 * @param report - from {@link backends}
 */
export function formatBackends(report: BackendsReport): string {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const lines = [
    `nasnet ${report.packageVersion} (addon ${report.addonVersion})`,
    `backends: ${report.available.join(', ')}`,
    `cpu: ${report.cpu.simd}, ${report.cpu.threads} threads`,
  ];
  const c = report.cuda;
  if (!c.compiled) {
    lines.push(`cuda: not compiled (${c.reason})`);
  } else {
    const archs = c.architectures
      .split(',')
      .map((a) => `sm_${a}`)
      .join(', ');
    lines.push(`cuda: compiled with CUDA ${c.toolkitVersion} for ${archs}`);
    if (c.devices.length === 0) lines.push(`  ${c.reason}`);
    for (const d of c.devices) {
      lines.push(`  device ${d.index}: ${d.name}, ${gib(d.totalMemory)}, compute ${d.computeCapability}, ${d.multiprocessors} SMs`);
    }
  }
  const n = report.cudnn;
  lines.push(n.available ? `cudnn: ${n.version} loaded from ${n.path}` : `cudnn: not loaded (${n.reason})`);
  return lines.join('\n');
}
