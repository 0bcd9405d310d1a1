import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'nasnet-cli-'));
const nasnet = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'nasnet.js'), ...args], { encoding: 'utf8', cwd: dir });

describe('nasnet CLI', () => {
  it('count: the published models', () => {
    const r = nasnet('count', '--preset', 'nasnet-a-mobile', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ params: 5289978, multAdds: 563638816 });
    const c = nasnet('count', '--genotype', 'nasnet-a', '--dataset', 'cifar', '--n', '6', '--penultimate', '768', '--json');
    expect((JSON.parse(c.stdout).params / 1e6).toFixed(1)).toBe('3.3');
    // The README's large-model line: stem multiplier 3 and skip_reduction_layer_input, as the preset.
    const large = ['--dataset', 'imagenet', '--n', '6', '--penultimate', '4032', '--image', '331', '--classes', '1000'];
    const l = nasnet('count', '--genotype', 'nasnet-a', ...large, '--stem-multiplier', '3', '--skip-reduction-input', '--json');
    expect(JSON.parse(l.stdout)).toEqual({ params: 88753150, multAdds: 23783414658 });
    expect(JSON.parse(nasnet('count', '--preset', 'nasnet-a-large', '--json').stdout)).toEqual({ params: 88753150, multAdds: 23783414658 });
  });

  it('draw: writes an SVG; a bad genotype is a one-line error', () => {
    const out = join(dir, 'n.svg');
    expect(nasnet('draw', '--genotype', 'nasnet-a', '--cell', 'reduction', '--out', out).status).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^<\?xml[^>]*>\s*<svg[\s\S]*sep 7x7[\s\S]*<\/svg>\s*$/);
    const bad = nasnet('draw', '--genotype', 'nasnet-z');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("nasnet: --genotype 'nasnet-z' is neither a named genotype (nasnet-a) nor a file\n");
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"normal": {"blocks": []}}');
    expect(nasnet('draw', '--genotype', file).stderr).toMatch(new RegExp(`^nasnet: ${file}: `));
  });

  it('train → checkpoint → export: the ONNX model runs in ONNX Runtime', async () => {
    const ck = join(dir, 'fm.safetensors');
    const metrics = join(dir, 'fm.jsonl');
    const r = nasnet('train', '--dataset', 'fashion-mnist-mini', '--n', '1', '--penultimate', '96', '--stem-multiplier', '1', '--batch', '16', '--max-batches', '3', '--checkpoint', ck, '--metrics', metrics, '--json');
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.network).toBe('1@96');
    expect(result.epochs).toHaveLength(1);
    expect(existsSync(ck)).toBe(true);
    expect(readFileSync(metrics, 'utf8').trim().split('\n')).toHaveLength(1);
    const onnx = join(dir, 'fm.onnx');
    const e = nasnet('export', '--checkpoint', ck, '--out', onnx);
    expect(e.status, e.stderr).toBe(0);
    const session = await ort.InferenceSession.create(onnx);
    const out = await session.run({ images: new ort.Tensor('float32', new Float32Array(2 * 28 * 28), [2, 1, 28, 28]) });
    expect(out[session.outputNames[0]].dims).toEqual([2, 10]);
  });

  it('transfer: a best.json at the cifar and mobile scales beside NASNet-A (dry run)', () => {
    const best = join(dir, 'best.json');
    const genotype = {
      normal: { blocks: [{ inputs: [0, 1], ops: ['sep_conv_3x3', 'identity'], combine: 'add' }, { inputs: [0, 2], ops: ['max_pool_3x3', 'sep_conv_5x5'], combine: 'add' }] },
      reduction: { blocks: [{ inputs: [0, 1], ops: ['sep_conv_5x5', 'max_pool_3x3'], combine: 'add' }, { inputs: [0, 2], ops: ['identity', 'sep_conv_3x3'], combine: 'add' }] },
    };
    writeFileSync(best, JSON.stringify({ id: 3, reward: 0.7, hash: 'x', genotype }));
    const d = nasnet('transfer', best, '--to', 'cifar', '--dry-run');
    expect(d.status, d.stderr).toBe(0);
    const lines = d.stdout.split('\n');
    expect(lines[0]).toBe("cifar scale, recipe nasnet-a-cifar, sized by the cifar scale's F: F = 32");
    expect(lines[1]).toMatch(/^\s+network\s+params\s+mult-adds$/);
    expect(lines[2]).toMatch(/^searched\s+6@128\s+[\d,]+\s+[\d,]+$/);
    expect(lines[3]).toMatch(/^NASNet-A\s+6@768\s+3,346,538\s+544,333,312$/);
    expect(lines).toContain('steps: 600 epochs × 1,562 steps (batch 32) = 937,200');
    const m = nasnet('transfer', best, '--to', 'mobile', '--match-params', 'nasnet-a', '--dataset', 'fashion-mnist-mini', '--dry-run', '--json');
    expect(m.status, m.stderr).toBe(0);
    const mj = JSON.parse(m.stdout);
    expect(mj.sizing).toBe('match-params');
    expect(Math.abs(mj.searched.params / mj.reference.params - 1)).toBeLessThan(0.05);
    expect(mj.setup.hyper).toMatchObject({ optimizer: 'rmsprop', lr: 0.04, ema: 0.9999 });
    const bad = nasnet('transfer', best, '--to', 'moon');
    expect(bad.stderr).toBe("nasnet: Expected one of 'cifar', 'mobile', 'large' for --to but received 'moon'\n");
  });

  it("search → transfer: the search's closing hint runs at the cifar and mobile scales with the recipes (no hyper-parameter typed)", () => {
    const run = join(dir, 'hinted');
    const s = nasnet('search', '--strategy', 'random', '--children', '2', '--n', '1', '--filters', '4', '--batch', '16', '--max-batches', '2', '--max-validation', '32', '--run', run);
    expect(s.status, s.stderr).toBe(0);
    const hint = s.stdout.split('\n').find((l) => l.includes('nasnet transfer') && l.includes('--to cifar'));
    expect(hint?.trim()).toBe(`nasnet transfer ${run}/best.json --to cifar`);
    // The hinted command as printed, on the embedded data, with tiny step counts (and a tiny N@F).
    const tiny = ['--dataset', 'fashion-mnist-mini', '--n', '1', '--filters', '8', '--epochs', '1', '--max-batches', '1', '--max-eval-images', '8'];
    const args = hint!.trim().split(' ').slice(1);
    for (const [to, preset, recipeNote] of [
      ['cifar', 'nasnet-a-cifar', 'nasnet: data: training on all 3,000 training images (no validation split held out); evaluating on the test split'],
      ['mobile', 'nasnet-a-mobile', 'ema: parameters averaged with decay 0.9999'],
    ] as const) {
      const t = nasnet(...args.slice(0, -1), to, ...tiny, '--json');
      expect(t.status, t.stderr).toBe(0);
      const out = JSON.parse(t.stdout);
      expect(out).toMatchObject({ preset, sizing: 'filters', searched: { N: 1, F: 8 }, diverged: false });
      expect(out.epochs).toHaveLength(1);
      expect(out.accuracy).toBeGreaterThanOrEqual(0);
      expect(t.stderr).toContain(recipeNote);
    }
  });

  it('search --json: a tiny search end to end, then --resume of a finished run adds nothing', () => {
    const run = join(dir, 'run');
    const args = ['--strategy', 'random', '--children', '2', '--n', '1', '--filters', '4', '--batch', '16', '--max-batches', '2', '--max-validation', '32', '--json'];
    const r = nasnet('search', ...args, '--run', run);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.children).toBe(2);
    expect(out.best.reward).toBeGreaterThanOrEqual(0);
    const again = nasnet('search', '--resume', run, '--json');
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).children).toBe(2);
    expect(readFileSync(join(run, 'history.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('search --shared and --halving: tiny searches end to end', () => {
    const tiny = ['--strategy', 'evolution', '--n', '1', '--filters', '4', '--batch', '16', '--max-validation', '32', '--json'];
    const shared = nasnet('search', ...tiny, '--shared', '--children', '4', '--children-per-round', '2', '--steps-per-round', '2', '--score-images', '32', '--candidates', '2', '--retrain-top', '1', '--run', join(dir, 'shared'));
    expect(shared.status, shared.stderr).toBe(0);
    const s = JSON.parse(shared.stdout);
    expect(s.children).toBe(4);
    expect(s.retrained).toHaveLength(1);
    expect(s.best.scoredBy).toBe('standalone');
    expect(s.shared.steps).toBe(4);
    const halving = nasnet('search', ...tiny, '--halving', '--rungs', '2', '--eta', '2', '--children', '3', '--max-batches', '2', '--run', join(dir, 'halving'));
    expect(halving.status, halving.stderr).toBe(0);
    const h = JSON.parse(halving.stdout);
    expect(h.children).toBe(3);
    expect(h.best.rungAccuracies.length).toBe(h.best.rung + 1);
    expect(readFileSync(join(dir, 'halving', 'rungs.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3);
  });

  it('rejects bad options with the option named', () => {
    const r = nasnet('search', '--strategy', 'genetic');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("nasnet: Expected one of 'ppo', 'reinforce', 'random', 'evolution' for --strategy but received 'genetic'\n");
    expect(nasnet('search', '--shared', '--halving').stderr).toBe('nasnet: --shared and --halving: choose one (halving budgets standalone children)\n');
    expect(nasnet('search', '--backend', 'gpu').stderr).toBe("nasnet: Expected one of 'cpu', 'cuda', 'auto' for --backend but received 'gpu'\n");
    const n = nasnet('train', '--n', 'two');
    expect(n.stderr).toContain("Expected integer for --n but received 'two'");
  });
});
