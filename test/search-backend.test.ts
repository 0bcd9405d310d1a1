/**
 * Where a search trains (`proxy.backend`, `nasnet search --backend`) belongs to the call, not to the
 * run: it is checked, handed to the children, and never stored or hashed.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backends } from '../lib/backends.js';
import { genotypeHash } from '../lib/cells/genotype.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { resolveConfig } from '../lib/search/config.js';
import { childJob } from '../lib/search/context.js';
import { childJobId } from '../lib/search/job-schema.js';
import { createLocalExecutor } from '../lib/search/local-executor.js';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import { TINY_PROXY } from './helpers/tiny-proxy.js';

const root = mkdtempSync(join(tmpdir(), 'nasnet-search-backend-'));
const inline = { kind: 'local', isolation: 'inline' } as const;

describe('proxy.backend', () => {
  it('is not part of the stored configuration nor of any job id', () => {
    const plain = resolveConfig({ proxy: TINY_PROXY }, 'run-1');
    const onCuda = resolveConfig({ proxy: { ...TINY_PROXY, backend: 'cuda' } }, 'run-1');
    expect(onCuda).toEqual(plain);
    expect(onCuda.proxy).not.toHaveProperty('backend');
    const hash = genotypeHash(NASNET_A);
    expect(childJobId(childJob(onCuda, 3, NASNET_A, hash))).toBe(childJobId(childJob(plain, 3, NASNET_A, hash)));
  });

  it('a run resumed with another backend is the same run: same config.json, the finished child kept, the rest trained', async () => {
    const runDir = join(root, 'resumed');
    let seen = 0;
    const stopAfterOne = () => {
      if (++seen === 1) throw new Error('stopped after the first child');
    };
    await expect(
      searchCells({ runDir, strategy: 'random', children: 3, seed: 4, proxy: { ...TINY_PROXY, backend: 'cpu' }, executor: inline, onChild: stopAfterOne }),
    ).rejects.toThrow('stopped after the first child');
    const config = readFileSync(join(runDir, 'config.json'), 'utf8');
    expect(JSON.parse(config).proxy).not.toHaveProperty('backend');
    const first = new RunDir(runDir).history();
    expect(first).toHaveLength(1);

    const r = await searchCells({ runDir, resume: true, proxy: { backend: 'auto' }, executor: inline });
    expect(readFileSync(join(runDir, 'config.json'), 'utf8')).toBe(config);
    expect(r.history).toHaveLength(3);
    expect(r.history[0]).toEqual(first[0]);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(3);
    for (const h of r.history) expect(h.error).toBeUndefined();
  });

  it('an invalid backend is a clear error before anything is written', async () => {
    const runDir = join(root, 'bad');
    await expect(searchCells({ runDir, proxy: { ...TINY_PROXY, backend: 'gpu' as never } })).rejects.toThrow(
      `Expected one of 'cpu', 'cuda', 'auto' for proxy.backend but received "gpu" of type string`,
    );
    expect(existsSync(runDir)).toBe(false);
    await expect(searchCells({ runDir, proxy: { backend: 'cpu' }, executor: { kind: 'bullmq', redis: 'redis://127.0.0.1:1' } })).rejects.toThrow(
      "proxy.backend 'cpu': with the BullMQ executor each worker chooses its own (nasnet worker --backend)",
    );
    expect(existsSync(runDir)).toBe(false);
    expect(() => createLocalExecutor({ backend: 'tpu' as never })).toThrow(`Expected one of 'cpu', 'cuda', 'auto' for backend but received "tpu" of type string`);
  });

  it('the local executor hands it to its worker processes as NASNET_BACKEND', async () => {
    const config = resolveConfig({ proxy: TINY_PROXY }, 'env');
    const job = childJob(config, 0, NASNET_A, genotypeHash(NASNET_A));
    const exec = createLocalExecutor({ backend: 'cuda', threadsPerChild: 1 });
    try {
      const r = await exec.submit(job);
      if (backends().available.includes('cuda')) expect(r.error).toBeUndefined();
      else expect(r.error).toMatch(/CUDA/); // the worker process asked for CUDA: this machine has none
    } finally {
      await exec.close();
    }
  });
});
