/**
 * A pool of worker threads decoding images with sharp (`lib/data/decode-worker.mjs`). Tasks run
 * in submission order, at most two per worker at a time (one decoding while the other converts).
 * Workers hold the process open only while they have work, so a forgotten `close()` never hangs
 * a program at exit.
 *
 * Note: sharp's decoding runs on libuv's thread pool, which all worker threads of a process
 * share (4 threads unless `UV_THREADPOOL_SIZE` is set before start); more than 4 decode workers
 * need a larger `UV_THREADPOOL_SIZE` to help.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DataError } from '../errors.js';
import { checkInteger } from '../util/check.js';
import { packageRoot } from '../util/package-root.js';
import type { FolderPreprocessing } from './types.js';

/** Colour distortion settings of a decode task (TF-slim `distort_color`). */
export interface ColorOptions {
  fast: boolean;
  brightness: number;
  saturation: [number, number];
  hue: number;
  contrast: [number, number];
}

/** One image to decode (see decode-worker.mjs for the exact semantics). */
export interface DecodeTask {
  file: string;
  /** Output side (square). */
  size: number;
  channels: 1 | 3;
  /** 'torchvision' (random-resized crop; shorter side + center crop) or 'inception' (TF-slim's). */
  mode: FolderPreprocessing;
  /** Random crop (true) or the evaluation crop (false). */
  train: boolean;
  /** Crop area range (fraction of the image). */
  scale: [number, number];
  /** Crop aspect ratio range. */
  ratio: [number, number];
  /** Inception: the fraction of the image the crop must cover. */
  minObjectCovered: number;
  /** Uniforms in [0, 1) for the crop tries: 4 per try (torchvision: 10 tries; Inception: 100). */
  u: number[] | null;
  flip: boolean;
  /** torchvision evaluation: the shorter side is resized to this before the center crop. */
  resizeSize: number;
  /** Inception evaluation: the central fraction kept. */
  centralFraction: number;
  /** Inception colour distortion: its options and 5 uniforms, or null for none. */
  color: { options: ColorOptions; u: number[] } | null;
  mean: number[];
  std: number[];
  normalize: boolean;
}

interface Pending {
  id: number;
  task: DecodeTask;
  resolve: (data: Float32Array) => void;
  reject: (err: Error) => void;
  signal?: { aborted: boolean };
}

interface Slot {
  worker: Worker;
  busy: Map<number, Pending>;
}

const PER_WORKER = 2;

/** Path of the decode worker script inside the package. */
export function decodeWorkerPath(): string {
  return join(packageRoot(), 'lib', 'data', 'decode-worker.mjs');
}

/** Worker threads decoding images; see the module note. */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  /**
   * @param size - number of worker threads, ≥ 1.
   * @example
   * const pool = new DecodePool(2);
   * const chw = await pool.decode({ file: 'a.jpg', size: 224, channels: 3, train: false, ... });
   * await pool.close();
   */
  constructor(readonly size: number) {
    checkInteger(size, 'workers');
    const path = decodeWorkerPath();
    if (!existsSync(path)) throw new DataError(`${path}: decode worker script not found; expected it in the package's lib/data/`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(path));
  }

  private spawn(path: string): Slot {
    const worker = new Worker(path);
    const slot: Slot = { worker, busy: new Map() };
    worker.unref();
    worker.on('message', (msg: { id: number; data?: Float32Array; error?: string }) => {
      const p = slot.busy.get(msg.id);
      if (p === undefined) return;
      slot.busy.delete(msg.id);
      if (msg.error !== undefined) p.reject(new DataError(msg.error));
      else p.resolve(msg.data!);
      this.pump();
    });
    worker.on('error', (err) => {
      // A crashed worker fails its tasks and is replaced.
      for (const p of slot.busy.values()) p.reject(new DataError(`decode worker crashed: ${err.message}`));
      slot.busy.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) {
        this.slots[i] = this.spawn(path);
        this.pump();
      }
    });
    return slot;
  }

  private pump(): void {
    for (const slot of this.slots) {
      while (slot.busy.size < PER_WORKER && this.queue.length > 0) {
        const p = this.queue.shift()!;
        if (p.signal?.aborted) {
          p.reject(new DataError('cancelled'));
          continue;
        }
        slot.busy.set(p.id, p);
        slot.worker.postMessage({ id: p.id, ...p.task });
      }
      if (slot.busy.size > 0) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  /**
   * Decode one image.
   * @param task - file and transform.
   * @param signal - when `aborted` is set before the task starts, it is dropped (rejected with "cancelled").
   * @returns `channels × size × size` normalized floats, CHW.
   * @throws DataError with the decoder's message (the caller adds the file and index).
   */
  decode(task: DecodeTask, signal?: { aborted: boolean }): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new DataError('decode pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve, reject, signal });
      this.pump();
    });
  }

  /** Stop the workers; queued and running tasks are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new DataError('decode pool is closed'));
    await Promise.all(
      this.slots.map(async (s) => {
        for (const p of s.busy.values()) p.reject(new DataError('decode pool is closed'));
        s.busy.clear();
        await s.worker.terminate();
      }),
    );
  }
}
