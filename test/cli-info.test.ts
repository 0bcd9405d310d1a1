import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = join(root, 'bin', 'nasnet.js');

describe('nasnet info', () => {
  it('prints the facts and exits 0', () => {
    expect(existsSync(join(root, 'dist', 'lib', 'cli', 'main.js')), 'dist/ missing: run npm run build').toBe(true);
    const r = spawnSync(process.execPath, [bin, 'info'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^nasnet \d+\.\d+\.\d+ \(addon \d+\.\d+\.\d+\)/);
    expect(r.stdout).toMatch(/cpu: (avx512|avx2|portable), \d+ threads/);
    expect(r.stdout).toMatch(/cuda: /);
    expect(r.stdout).toMatch(/cudnn: /);
  });

  it('prints JSON with --json', () => {
    const r = spawnSync(process.execPath, [bin, 'info', '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.available).toContain('cpu');
    expect(typeof report.cuda.compiled).toBe('boolean');
  });

  it('caps the SIMD level with NASNET_SIMD', () => {
    const r = spawnSync(process.execPath, [bin, 'info', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, NASNET_SIMD: 'portable' },
    });
    expect(JSON.parse(r.stdout).cpu.simd).toBe('portable');
  });

  it('rejects an unknown command with a non-zero exit', () => {
    const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });
});
