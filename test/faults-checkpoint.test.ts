/**
 * Fault classes "a checkpoint of another run continues silently", "a missing tensor is
 * re-initialised", "export writes what ONNX Runtime rejects", "an unwritable path fails after the
 * work" and "a bad option is accepted": each is refused up front with the file and the field named.
 * The fuzzer over damaged headers is test/fuzz-checkpoint-headers.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { type NamedTensor, readSafetensors, writeSafetensors } from '../lib/io/safetensors.js';
import { exportOnnx, ONNX_OPSET_MAX, ONNX_OPSET_MIN } from '../lib/onnx/export.js';
import { searchCells } from '../lib/search/search.js';
import { train } from '../lib/train/train.js';
import { TINY_PROXY, TINY_SHARED } from './helpers/tiny-proxy.js';
import { TINY_TRAIN } from './helpers/tiny-train.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'nasnet-ckpt-faults-'));
const nasnet = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'nasnet.js'), ...args], { encoding: 'utf8', cwd: dir });
const tiny = { ...TINY_TRAIN, maxBatchesPerEpoch: 2, maxEvalImages: 32, seed: 5 };

/** NASNet-A with one average pooling made a max pooling: another genotype with exactly the same tensors. */
const SAME_SHAPES: Genotype = structuredClone(NASNET_A);
{
  const b = SAME_SHAPES.normal.blocks.find((x) => x.ops.includes('avg_pool_3x3'))! as unknown as { ops: string[] };
  b.ops = b.ops.map((o) => (o === 'avg_pool_3x3' ? 'max_pool_3x3' : o));
}

let ck = '';
let bytes: Buffer;
beforeAll(async () => {
  ck = join(dir, 'a.safetensors');
  await train({ ...tiny, genotype: NASNET_A, epochs: 1, checkpoint: ck });
  bytes = readFileSync(ck);
});

/** A copy of the checkpoint with its tensors changed by `edit`. */
function edited(name: string, edit: (t: Map<string, NamedTensor>) => void): string {
  const { tensors, metadata } = readSafetensors(ck);
  edit(tensors);
  const path = join(dir, name);
  writeSafetensors(path, tensors, metadata);
  return path;
}

describe('resuming refuses a checkpoint the run did not write', () => {
  it('another genotype of the same shapes: refused, and the checkpoint is not rewritten', async () => {
    await expect(train({ ...tiny, genotype: SAME_SHAPES, epochs: 2, checkpoint: ck })).rejects.toThrow(
      /checkpoint .*a\.safetensors: written for genotype [0-9a-f]{12}, but this run trains genotype [0-9a-f]{12}/,
    );
    expect(readFileSync(ck).equals(bytes)).toBe(true);
  });

  it('other network options, another data set, another optimizer', async () => {
    await expect(train({ ...tiny, network: { ...tiny.network, filters: 6 }, genotype: NASNET_A, epochs: 2, checkpoint: ck })).rejects.toThrow(
      /written for other network options: filters 4 there, 6 here/,
    );
    await expect(train({ ...tiny, dataset: 'fashion-mnist-mini', dataOptions: { size: 32 }, genotype: NASNET_A, epochs: 2, checkpoint: ck })).rejects.toThrow(
      /written for other network options: inputSize \[28,28\] there, \[32,32\] here/,
    );
    await expect(train({ ...tiny, optimizer: 'rmsprop', genotype: NASNET_A, epochs: 2, checkpoint: ck })).rejects.toThrow(/lacks \d+ tensors the run needs: .*#m/);
    expect(readFileSync(ck).equals(bytes)).toBe(true);
  });

  it('a missing tensor is refused, not re-initialised; an extra one and a permuted shape are refused', async () => {
    const missing = edited('missing.safetensors', (t) => t.delete('stem/conv/W'));
    await expect(train({ ...tiny, genotype: NASNET_A, epochs: 2, checkpoint: missing })).rejects.toThrow(/lacks 1 tensors the run needs: stem\/conv\/W$/);
    const extra = edited('extra.safetensors', (t) => t.set('stem/conv/W2', { shape: [1], data: new Float32Array(1) }));
    await expect(train({ ...tiny, genotype: NASNET_A, epochs: 2, checkpoint: extra })).rejects.toThrow(/holds 1 tensors the run does not have: stem\/conv\/W2/);
    const permuted = edited('permuted.safetensors', (t) => {
      const w = t.get('stem/conv/W')!;
      w.shape = [...w.shape].reverse();
    });
    await expect(train({ ...tiny, genotype: NASNET_A, epochs: 2, checkpoint: permuted })).rejects.toThrow(
      /1 tensors have another shape, e.g. 'stem\/conv\/W' \[3,3,1,8\] where the run has \[8,1,3,3\]/,
    );
  });

  it('the checkpoint of this very run still resumes', async () => {
    const r = await train({ ...tiny, genotype: NASNET_A, epochs: 2, checkpoint: ck });
    expect(r.resumedFromEpoch).toBe(1);
    expect(r.epochs).toHaveLength(1);
  });
});

describe('nasnet export refuses what ONNX Runtime would reject', () => {
  it('a checkpoint whose header permutes a shape: exit 1 naming the parameter, no file written', () => {
    const permuted = join(dir, 'permuted.safetensors');
    const out = join(dir, 'permuted.onnx');
    const r = nasnet('export', '--checkpoint', permuted, '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/parameter 'stem\/conv\/W' has shape \[3,3,1,8\] in the weights but the graph needs \[8,1,3,3\]/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('an --out that cannot be written fails before the checkpoint is read', () => {
    const r = nasnet('export', '--checkpoint', join(dir, 'does-not-exist.safetensors'), '--out', '/proc/nasnet-no/x.onnx');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--out \/proc\/nasnet-no\/x\.onnx: cannot create the folder \/proc\/nasnet-no/);
  });
});

describe('export opsets: what ONNX Runtime loads, nothing else', () => {
  it('opsets 11, 13 and 26 give the same logits in ONNX Runtime; 10 and 27 are refused naming the range', async () => {
    const net = buildNetwork(NASNET_A, { cellsPerStack: 1, filters: 4, numClasses: 3, inputSize: 8, inputChannels: 1, auxHead: false });
    const store = new ParameterStore();
    const plan = await Plan.compile(net.inference, store, { batch: 1, training: false });
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const want = await plan.predict(x);
    for (const opset of [ONNX_OPSET_MIN, 13, ONNX_OPSET_MAX]) {
      const session = await ort.InferenceSession.create(exportOnnx(net.inference, store, { opset }));
      const out = await session.run({ images: new ort.Tensor('float32', x, [1, 1, 8, 8]) });
      const got = out[session.outputNames[0]!]!.data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `opset ${opset}`).toBeLessThanOrEqual(1e-4 * Math.abs(want[i]!) + 1e-5);
    }
    for (const opset of [ONNX_OPSET_MIN - 1, ONNX_OPSET_MAX + 1]) {
      expect(() => exportOnnx(net.inference, store, { opset })).toThrow(`Expected integer in [11, 26] for opset but received ${opset}`);
    }
    plan.dispose();
  });
});

describe('paths and options are checked before any work', () => {
  it('an unwritable --checkpoint, --metrics or --run fails at once (under /proc it used to spin forever)', async () => {
    const t0 = Date.now();
    await expect(train({ ...tiny, genotype: NASNET_A, checkpoint: '/proc/nasnet-x/a.safetensors' })).rejects.toThrow(
      'checkpoint /proc/nasnet-x/a.safetensors: cannot create the folder /proc/nasnet-x',
    );
    writeFileSync(join(dir, 'a-file'), '');
    await expect(train({ ...tiny, genotype: NASNET_A, metricsFile: join(dir, 'a-file', 'm.jsonl') })).rejects.toThrow(/metricsFile .*: .*a-file exists and is not a folder/);
    await expect(searchCells({ runDir: '/proc/nasnet-run', children: 1 })).rejects.toThrow('run folder /proc/nasnet-run: cannot create the folder /proc/nasnet-run');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const r = nasnet('train', '--dataset', 'fashion-mnist-mini', '--n', '1', '--penultimate', '96', '--max-batches', '1', '--onnx', '/proc/nasnet-y/m.onnx');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--onnx \/proc\/nasnet-y\/m\.onnx: cannot create the folder/);
  });

  it('negative weight decay, momentum 1, negative clipNorm, a cutout larger than the image', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ weightDecay: -1e-4 }, 'Expected finite number >= 0 for weightDecay but received -0.0001'],
      [{ momentum: 1 }, 'Expected finite number in [0, 1) for momentum but received 1'],
      [{ clipNorm: -1 }, 'Expected finite number >= 0 for clipNorm but received -1'],
      [{ cutout: 29 }, 'Expected integer in [0, 28] for cutout but received 29'],
    ];
    for (const [bad, message] of cases) await expect(train({ ...tiny, genotype: NASNET_A, ...bad })).rejects.toThrow(message);
  });
});

describe('a shared-weights search resumes only from its own shared.safetensors', () => {
  it('another run, a checkpoint that does not say its run, a damaged position: refused naming the file; its own: exact', async () => {
    const runDir = join(dir, 'shared');
    const shared = { ...TINY_SHARED, candidates: 2, retrainTop: 0 };
    const options = { mode: 'shared' as const, strategy: 'random' as const, children: 4, proxy: TINY_PROXY, shared, executor: { kind: 'local' as const, isolation: 'inline' as const }, seed: 3 };
    const first = await searchCells({ runDir, ...options });
    const ck = join(runDir, 'shared.safetensors');
    const { tensors, metadata } = readSafetensors(ck);
    const run = JSON.parse(metadata.run!) as Record<string, unknown>;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['another seed and filters', { ...metadata, run: JSON.stringify({ ...run, seed: 4, proxy: { ...(run.proxy as object), filters: 8 } }) }, /shared\.safetensors: written for another run: seed 4 there, 3 in config\.json; proxy \{.*"filters":8.*\} there/],
      ['no run recorded', Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== 'run')), /shared\.safetensors: does not say which run wrote it/],
      ['a damaged position', { ...metadata, position: JSON.stringify({ phase: 'train', round: -1, step: 2 }) }, /shared\.safetensors: position .*: round must be a non-negative integer/],
    ];
    for (const [what, meta, message] of cases) {
      const copy = join(dir, `shared-${what.replace(/ /g, '-')}`);
      cpSync(runDir, copy, { recursive: true });
      writeSafetensors(join(copy, 'shared.safetensors'), tensors, meta);
      await expect(searchCells({ runDir: copy, resume: true }), what).rejects.toThrow(message);
    }
    const again = await searchCells({ runDir, resume: true });
    expect(again.history).toEqual(first.history);
  }, 120_000);
});
