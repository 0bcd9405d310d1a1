import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AddonLoadError } from '../lib/errors.js';
import { addonCandidates, backends, formatBackends, loadBinding } from '../lib/index.js';

describe('native addon loading', () => {
  it('loads the built addon and reports the CPU', () => {
    const b = loadBinding();
    const info = b.info();
    expect(info.cpu.threads).toBeGreaterThanOrEqual(1);
    expect(['avx512', 'avx2', 'portable']).toContain(info.cpu.simd);
  });

  it('lists every path tried, its cause and the fix when the addon is missing or broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasnet-binding-'));
    const broken = join(dir, 'broken.node');
    writeFileSync(broken, 'this is not a shared library');
    const missing = join(dir, 'missing.node');
    let error: unknown;
    try {
      loadBinding([missing, broken]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AddonLoadError);
    const message = (error as Error).message;
    expect(message).toContain(`${missing}: not found`);
    expect(message).toContain(`${broken}: `);
    expect(message).toMatch(/invalid ELF header|file too short/);
    expect(message).toContain('npm rebuild nasnet');
  });

  it('honours NASNET_ADDON as the first candidate', () => {
    const before = process.env.NASNET_ADDON;
    process.env.NASNET_ADDON = '/nowhere/nasnet.node';
    try {
      expect(addonCandidates('/pkg')[0]).toBe('/nowhere/nasnet.node');
      expect(addonCandidates('/pkg')).toContain('/pkg/build/Release/nasnet.node');
    } finally {
      if (before === undefined) delete process.env.NASNET_ADDON;
      else process.env.NASNET_ADDON = before;
    }
  });
});

describe('backends()', () => {
  it('reports versions, CPU, CUDA and cuDNN without throwing', () => {
    const r = backends();
    expect(r.packageVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.addonVersion).toBe(r.packageVersion);
    expect(r.available).toContain('cpu');
    if (r.cuda.devices.length === 0) {
      expect(r.available).not.toContain('cuda');
      expect(r.cuda.reason).not.toBe('');
    }
    if (!r.cudnn.available) {
      expect(r.cudnn.reason).toContain('libcudnn.so.9');
      expect(r.cudnn.tried.length).toBeGreaterThan(0);
    }
    const text = formatBackends(r);
    expect(text).toContain(`cpu: ${r.cpu.simd}, ${r.cpu.threads} threads`);
    expect(text).toMatch(/cuda: (compiled|not compiled)/);
    expect(text).toMatch(/cudnn: /);
  });
});
