/**
 * Downloads into the data cache: Node's own `http`/`https`, a progress bar on stderr, the
 * published checksum verified, written atomically. Bytes go to `NAME.tmp-PID`, which is fsynced,
 * checked and only then renamed to `NAME`; a killed download leaves at most a `.tmp-PID` file,
 * which is never read and is removed by the next download of the same file.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { DataError } from '../errors.js';

/** A file published at one or more addresses, with its checksum. */
export interface RemoteFile {
  /** File name in the cache folder. */
  name: string;
  /** Addresses to try in order (http or https). */
  urls: string[];
  /** Published MD5, hex. */
  md5?: string;
  /** Published SHA-256, hex. */
  sha256?: string;
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Draw a progress bar on stderr (when stderr is a terminal); default true. */
  progress?: boolean;
  /** Called as bytes arrive: received and total (0 when the server sent no length). */
  onProgress?: (received: number, total: number) => void;
  /** Socket idle timeout in ms; default 60,000. */
  timeoutMs?: number;
}

/**
 * The data cache folder: `$NASNET_DATA`, else `$XDG_CACHE_HOME/nasnet/data`, else
 * `~/.cache/nasnet/data` (`%LOCALAPPDATA%\nasnet\data` on Windows, `~/Library/Caches/nasnet/data` on macOS).
 *
 * @example
 * dataCacheDir(); // '/home/me/.cache/nasnet/data'
 */
export function dataCacheDir(): string {
  const env = process.env.NASNET_DATA;
  if (env) return env;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, 'nasnet', 'data');
  if (process.platform === 'win32' && process.env.LOCALAPPDATA) return join(process.env.LOCALAPPDATA, 'nasnet', 'data');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'nasnet', 'data');
  return join(homedir(), '.cache', 'nasnet', 'data');
}

function request(url: string, timeoutMs: number, redirects = 5): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new Error(`not a valid URL`));
      return;
    }
    const get = parsed.protocol === 'https:' ? httpsGet : parsed.protocol === 'http:' ? httpGet : undefined;
    if (get === undefined) {
      reject(new Error(`unsupported protocol ${parsed.protocol} (expected http: or https:)`));
      return;
    }
    const req = get(parsed, { headers: { 'user-agent': 'nasnet-data' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects === 0) {
          reject(new Error('too many redirects'));
          return;
        }
        request(new URL(res.headers.location, parsed).toString(), timeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new Error(`HTTP ${status} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      resolve(res);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function removeStaleTemps(dir: string, name: string): Promise<void> {
  const prefix = `${name}.tmp-`;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.startsWith(prefix)) continue;
    const pid = Number(f.slice(prefix.length));
    let alive = pid === process.pid;
    if (!alive && Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (!alive) await unlink(join(dir, f)).catch(() => undefined);
  }
}

async function fetchTo(url: string, tmp: string, remote: RemoteFile, opts: DownloadOptions): Promise<void> {
  const res = await request(url, opts.timeoutMs ?? 60_000);
  const total = Number(res.headers['content-length'] ?? 0) || 0;
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  const fh = await open(tmp, 'w');
  const bar =
    (opts.progress ?? true) && process.stderr.isTTY && total > 0
      ? new SingleBar({
          stream: process.stderr,
          format: `${remote.name} [{bar}] {percentage}% | {value}/{total} MB | ETA {eta_formatted}`,
          formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? (v / 1048576).toFixed(1) : String(v)),
        })
      : undefined;
  bar?.start(total, 0);
  let received = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      md5.update(chunk);
      sha.update(chunk);
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
      received += chunk.length;
      bar?.update(received);
      opts.onProgress?.(received, total);
    }
    if (total > 0 && received !== total) throw new Error(`connection closed after ${received} of ${total} bytes`);
    await fh.sync();
  } finally {
    bar?.stop();
    await fh.close();
  }
  const checks: [string, string | undefined, string][] = [
    ['md5', remote.md5, md5.digest('hex')],
    ['sha256', remote.sha256, sha.digest('hex')],
  ];
  for (const [algo, expected, got] of checks) {
    if (expected !== undefined && expected.toLowerCase() !== got) {
      throw new Error(`checksum mismatch: ${algo} ${got}, expected ${expected.toLowerCase()} (the download was discarded)`);
    }
  }
}

/**
 * Download a file into a folder, verified and atomically: `dir/NAME` exists only once the whole
 * file has arrived and matched its published checksum. Each address is tried in turn.
 *
 * @param remote - the file: name, addresses, md5 and/or sha256.
 * @param dir - destination folder (created if missing).
 * @param opts - progress bar (default on), progress callback, timeout.
 * @returns the path of the downloaded file.
 * @throws DataError naming each address tried and why it failed (HTTP status, checksum mismatch...).
 * @example
 * await downloadFile({ name: 'a.gz', urls: ['https://example.org/a.gz'], md5: '...' }, dataCacheDir());
 */
export async function downloadFile(remote: RemoteFile, dir: string, opts: DownloadOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const dest = join(dir, remote.name);
  const tmp = `${dest}.tmp-${process.pid}`;
  await removeStaleTemps(dir, remote.name);
  const failures: string[] = [];
  for (const url of remote.urls) {
    if (opts.progress ?? true) process.stderr.write(`nasnet: downloading ${remote.name} from ${url} into ${dir}\n`);
    try {
      await fetchTo(url, tmp, remote, opts);
      await rename(tmp, dest);
      // Make the rename itself durable (best effort: not every platform can fsync a folder).
      const dh = await open(dir, 'r').catch(() => undefined);
      await dh?.sync().catch(() => undefined);
      await dh?.close();
      return dest;
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      failures.push(`${url}: ${(err as Error).message}`);
    }
  }
  throw new DataError(`cannot download ${remote.name} into ${dir}:\n  ${failures.join('\n  ')}`);
}

/**
 * A verified local copy of a remote file: `dir/NAME` when present (it was only ever written
 * after its checksum matched), else downloaded when `download` is true.
 *
 * @param remote - the file.
 * @param dir - cache folder.
 * @param download - allow downloading; when false a missing file is a DataError saying how to get it.
 * @param opts - download options.
 * @example
 * const path = await ensureFile(CIFAR10_REMOTE[0], join(dataCacheDir(), 'cifar10'), true);
 */
export async function ensureFile(remote: RemoteFile, dir: string, download: boolean, opts: DownloadOptions = {}): Promise<string> {
  const dest = join(dir, remote.name);
  if (existsSync(dest)) return dest;
  if (!download) {
    throw new DataError(`${dest}: not found and downloading is off; expected ${remote.name} from ${remote.urls[0]}`);
  }
  return downloadFile(remote, dir, opts);
}
