/**
 * Fault class "late or unclear errors" through the command line (issue 16): every subcommand with
 * hostile options (missing or mistyped values, out-of-range numbers, nonsense, empty and truncated
 * files, folders where files belong and files where folders belong, an unreachable or malformed Redis
 * URL, opsets ONNX Runtime rejects). Each row: the command exits non-zero within its bound, prints one
 * clear `nasnet: <message>` line (or commander's `error: ...` for a malformed command line) whose text
 * matches the row, and never a stack trace, a bare TypeError/RangeError or a raw client error object;
 * where the row says so, nothing is left behind (no run folder, no output file).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'nasnet-cli-faults-'));
mkdirSync(join(dir, 'folder'));
mkdirSync(join(dir, 'runs')); // where `nasnet dashboard` looks by default
mkdirSync(join(dir, 'run1')); // a run folder as far as the dashboard is concerned (it listens, then reads)
writeFileSync(join(dir, 'run1', 'history.jsonl'), '');
writeFileSync(join(dir, 'empty.json'), '');
writeFileSync(join(dir, 'garbage.json'), 'garbage\n');
writeFileSync(join(dir, 'object.json'), '{"a":1}');
writeFileSync(join(dir, 'empty.safetensors'), '');
writeFileSync(join(dir, 'short.safetensors'), 'xxxxxxxxxxxx');
const UNREACHABLE = 'redis://127.0.0.1:1';

/** [arguments, what stderr must say, paths (in the temporary folder) that must not exist afterwards]. */
type Row = [string[], RegExp, string[]?];
const ROWS: Row[] = [
  // search
  [['search', '--children'], /error: option '--children <k>' argument missing/],
  [['search', '--children', 'abc'], /Expected integer for --children but received 'abc'/],
  [['search', '--children', '-1', '--run', 'neg'], /Expected positive integer for children but received -1/, ['neg']],
  [['search', '--blocks', '0', '--run', 'b0'], /Expected positive integer for blocks but received 0/, ['b0']],
  [['search', '--dataset', 'nope', '--run', 'ds'], /Unknown data set 'nope'; expected one of/, ['ds']],
  [['search', '--data', 'empty.json', '--children', '1', '--run', 'df'], /data folder empty\.json is a file, not a folder/],
  [['search', '--resume', 'folder'], /run folder .*folder holds no config\.json/],
  [['search', '--resume', 'never-made'], /run folder .*never-made does not exist/, ['never-made']],
  [['search', '--run', 'empty.json', '--children', '1'], /empty\.json exists and is not a folder/],
  [['search', '--strategy', 'magic'], /Expected one of 'ppo', 'reinforce', 'random', 'evolution' for --strategy but received 'magic'/],
  [['search', '--redis', UNREACHABLE, '--children', '1', '--run', 'unreached'], /cannot reach Redis at redis:\/\/127\.0\.0\.1:1 within 10 s \(connect ECONNREFUSED/, ['unreached']],
  [['search', '--redis', 'notaurl', '--children', '1', '--run', 'badurl'], /Expected a URL like redis:\/\/host:6379 for redis but received "notaurl"/, ['badurl']],
  [['search', '--lr', '-1', '--run', 'lr'], /expected finite number > 0 for proxy\.lr but received -1/, ['lr']],
  [['search', '--backend', 'gpu'], /Expected one of 'cpu', 'cuda', 'auto' for --backend but received 'gpu'/],
  [['search', '--shared', '--halving', '--children', '2', '--run', 'both'], /--shared and --halving: choose one/, ['both']],
  // train / transfer
  [['train', '--genotype', 'folder'], /--genotype folder: is a folder, expected a genotype JSON file/],
  [['train', '--genotype', 'empty.json'], /empty\.json: not valid JSON/],
  [['train', '--genotype', 'garbage.json'], /garbage\.json: not valid JSON/],
  [['train', '--genotype', 'object.json'], /object\.json: normal cell: expected an object with 'blocks'/],
  [['train', '--genotype', '{'], /--genotype: not valid JSON/],
  [['train', '--genotype', 'nope'], /--genotype 'nope' is neither a named genotype \(nasnet-a\) nor a file/],
  [['train', '--batch', '0'], /Expected positive integer for batchSize but received 0/],
  [['train', '--lr', 'nan'], /Expected number for --lr but received 'nan'/],
  [['train', '--checkpoint', 'folder', '--max-batches', '1'], /checkpoint folder: is a folder, expected a file/],
  [['train', '--dataset', 'fashion-mnist-mini', '--checkpoint', 'empty.safetensors', '--n', '1', '--filters', '4', '--max-batches', '1'], /safetensors empty\.safetensors: file is 0 bytes/],
  [['train', '--dataset', 'fashion-mnist-mini', '--checkpoint', 'short.safetensors', '--n', '1', '--filters', '4', '--max-batches', '1'], /safetensors short\.safetensors: header length \d+ exceeds the file \(12 bytes\)/],
  [['train', '--metrics', 'folder', '--max-batches', '1'], /metricsFile folder: is a folder, expected a file/],
  [['train', '--onnx', 'folder', '--max-batches', '1'], /--onnx folder: is a folder, expected a file/],
  [['train', '--dataset', 'cifar10', '--data', 'empty.json'], /data folder empty\.json is a file, not a folder/],
  [['train', '--channels', '7'], /Expected 1 or 3 for --channels but received 7/],
  [['train', '--ema', '2'], /Expected finite number in \[0, 0\.999999999\] for ema but received 2/],
  [['train', '--optimizer', 'adam'], /Expected 'sgd' or 'rmsprop' for --optimizer but received 'adam'/],
  [['transfer', 'folder', '--to', 'cifar'], /--genotype folder: is a folder/],
  [['transfer', 'garbage.json', '--to', 'cifar'], /garbage\.json: not valid JSON/],
  [['transfer', 'nasnet-a', '--to', 'nope'], /Expected one of 'cifar', 'mobile', 'large' for --to but received 'nope'/],
  [['transfer', 'nasnet-a', '--to', 'cifar', '--match-params', 'folder'], /--genotype folder: is a folder/],
  // count / draw
  [['count', '--genotype', 'folder'], /--genotype folder: is a folder/],
  [['count', '--preset', 'nope'], /Unknown preset 'nope'/],
  [['count', '--image', '0'], /Expected positive integer for inputSize\[0\] but received 0/],
  [['draw', '--genotype', 'folder'], /--genotype folder: is a folder/],
  [['draw', '--genotype', 'nasnet-a', '--cell', 'nope'], /Expected 'normal' or 'reduction' for --cell but received 'nope'/],
  [['draw', '--genotype', 'nasnet-a', '--out', 'folder'], /--out folder: is a folder, expected a file/],
  // export
  [['export', '--checkpoint', 'folder', '--out', 'x.onnx'], /safetensors folder: cannot read \(EISDIR/, ['x.onnx']],
  [['export', '--checkpoint', 'garbage.json', '--out', 'x.onnx'], /safetensors garbage\.json: header length \d+ exceeds the file/, ['x.onnx']],
  [['export', '--checkpoint', 'empty.safetensors', '--out', 'folder'], /--out folder: is a folder, expected a file/],
  [['export', '--checkpoint', 'empty.safetensors', '--out', 'x.onnx', '--opset', '10'], /Expected integer in \[11, 26\] for --opset but received 10/, ['x.onnx']],
  [['export', '--checkpoint', 'empty.safetensors', '--out', 'x.onnx', '--opset', '27'], /Expected integer in \[11, 26\] for --opset but received 27/, ['x.onnx']],
  // worker / status / dashboard
  [['worker', '--redis', UNREACHABLE, '--backend', 'cpu'], /cannot reach Redis at redis:\/\/127\.0\.0\.1:1 within 10 s/],
  [['worker', '--redis', 'http://x'], /Expected a URL like redis:\/\/host:6379 for redis but received "http:\/\/x"/],
  [['worker', '--redis', UNREACHABLE, '--concurrency', '0'], /Expected positive integer for concurrency but received 0/],
  [['worker', '--redis', UNREACHABLE, '--threads', '-1', '--backend', 'cpu'], /Expected positive integer for threadsPerChild but received -1/],
  [['worker', '--redis', UNREACHABLE, '--data', 'empty.json', '--backend', 'cpu'], /--data: empty\.json is a file, expected the folder of the data sets/],
  [['worker', '--redis', UNREACHABLE, '--data', 'never-made'], /--data: folder never-made does not exist/],
  [['status', '--redis', UNREACHABLE], /cannot reach Redis at redis:\/\/127\.0\.0\.1:1 within 10 s/],
  [['status', '--redis', 'notaurl'], /Expected a URL like redis:\/\/host:6379/],
  [['dashboard', '--port', '99999'], /Expected integer in \[0, 65535\] for port but received 99999/],
  [['dashboard', 'never-made'], /never-made: no such folder/],
  [['dashboard', 'empty.json'], /empty\.json is a file, not a run folder/],
  [['dashboard', 'run1', '--host', '256.1.1.1', '--port', '0'], /cannot listen on 256\.1\.1\.1: .*\(check --host: an address of this machine/],
  [['info', 'extra'], /error: too many arguments for 'info'/],
  [['nope'], /error: unknown command 'nope'/],
];

/** Runs the CLI in the temporary folder; resolves with its exit code and stderr (killed after `ms`). */
function nasnet(args: string[], ms = 30_000): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [join(root, 'bin', 'nasnet.js'), ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NASNET_BACKEND: 'cpu' } });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: performance.now() - t0 });
    });
  });
}

describe('the CLI under hostile options: one clear line, never a stack trace', () => {
  it(`${ROWS.length} commands exit 1 (or commander's code) with the message of their row`, async () => {
    const failures: string[] = [];
    // Six at a time: the Redis rows wait their 10 s side by side.
    for (let i = 0; i < ROWS.length; i += 6) {
      await Promise.all(
        ROWS.slice(i, i + 6).map(async ([args, message, absent]) => {
          const r = await nasnet(args);
          const text = r.stderr.replace(/^nasnet worker: no CUDA device.*\n/m, '');
          const what = `nasnet ${args.join(' ')} (exit ${r.code}, ${(r.ms / 1000).toFixed(1)} s): ${JSON.stringify(text.slice(0, 600))}`;
          if (r.code === null) failures.push(`hung: ${what}`);
          else if (r.code === 0) failures.push(`exit 0: ${what}`);
          else if (/\n\s+at |^\s+at |TypeError|RangeError|ReferenceError|Cannot read properties|\[object Object\]|errno:|syscall:/m.test(text)) failures.push(`raw error: ${what}`);
          else if (!message.test(text)) failures.push(`message: ${what} does not match ${message}`);
          else if (!/^(nasnet: |error: )/m.test(text)) failures.push(`not one clear line: ${what}`);
          for (const p of absent ?? []) if (existsSync(join(dir, p))) failures.push(`left ${p} behind: ${what}`);
        }),
      );
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
