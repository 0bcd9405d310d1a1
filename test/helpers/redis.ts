/**
 * Real Redis servers for the BullMQ tests, on loopback only. CI exports NASNET_TEST_REDIS (a server
 * on 127.0.0.1:6390); tests that restart Redis start their own with {@link startRedisServer}.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { heartbeatKey } from '../../lib/search/status.js';

/** A redis-server this test started. */
export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
}

/** Throws a clear error when redis-server is not installed (the tests need a real one: no skipping). */
export function requireRedisServer(): string {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('redis-server was not found on PATH: the BullMQ tests need a real Redis (apt-get install -y redis-server)');
  }
  return r.stdout.trim();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when something on 127.0.0.1:port answers PING with PONG. */
export async function waitForPong(port: number, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = new Socket();
      let buf = '';
      const done = (v: boolean) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(500, () => done(false));
      sock.once('error', () => done(false));
      sock.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
      });
      sock.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a redis-server on a free loopback port (no persistence, files in a temp folder).
 *
 * @example
 * const server = await startRedisServer();
 * afterAll(() => server.stop());
 */
export async function startRedisServer(): Promise<RedisServer> {
  requireRedisServer();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nasnet-redis-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    const p = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--pidfile', join(dir, 'redis.pid'), '--logfile', join(dir, 'redis.log')],
      { stdio: 'ignore' },
    );
    proc = p;
    const exited = new Promise<never>((_, reject) => p.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${safeRead(join(dir, 'redis.log'))}`))));
    await Promise.race([waitForPong(port), exited]);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 3000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await start();
    },
  };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-500);
  } catch {
    return '(no log)';
  }
}

/**
 * The Redis of the tests: NASNET_TEST_REDIS when set (CI), else a server started here. Loopback only.
 */
export async function testRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const url = process.env.NASNET_TEST_REDIS;
  if (url) {
    const u = new URL(url);
    if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') throw new Error(`NASNET_TEST_REDIS must be a loopback address, got ${url}`);
    await waitForPong(Number(u.port || 6379)).catch((err: Error) => {
      throw new Error(`NASNET_TEST_REDIS=${url}: ${err.message}`);
    });
    return { url, stop: async () => undefined };
  }
  return startRedisServer();
}

/** Removes the tests' queues and their workers' heartbeats from the Redis at `url`. */
export async function dropQueues(url: string, names: readonly string[]): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: null });
  for (const name of names) {
    const q = new Queue(name, { connection: client });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    await client.del(heartbeatKey(name));
  }
  client.disconnect();
}

/** A queue name no other test uses. */
export function uniqueQueue(label: string): string {
  return `t-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
