import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** A float32 tensor as stored in a safetensors file. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** The contents of a safetensors file: tensors by name and string metadata. */
export interface SafetensorsContents {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

const MAX_HEADER = 100 * 1024 * 1024;

/**
 * Writes float32 tensors and string metadata in the safetensors format (an 8-byte little-endian
 * header length, a JSON header with `dtype`, `shape` and `data_offsets` per tensor and
 * `__metadata__`, then the raw little-endian data), atomically.
 *
 * @param path - destination file
 * @param tensors - name → tensor; written in sorted name order
 * @param metadata - string values only (JSON-encode anything else)
 * @example
 * writeSafetensors('model.safetensors', new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]]), { step: '10' });
 */
export function writeSafetensors(path: string, tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new DataError(`safetensors ${path}: tensor '${name}' has shape [${t.shape}] (${count} values) but ${t.data.length} values`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const chunks: Uint8Array[] = [prefix, headerBytes];
  for (const name of names) {
    const t = tensors.get(name)!;
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  writeFileAtomic(path, chunks);
}

/**
 * Reads a safetensors file of float32 tensors. Errors name the file, the tensor and what is wrong
 * (a truncated file, a header that is not JSON, offsets outside the data, a dtype other than F32).
 *
 * @param path - the file
 */
export function readSafetensors(path: string): SafetensorsContents {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new DataError(`safetensors ${path}: cannot read (${(err as Error).message})`);
  }
  if (buf.length < 8) throw new DataError(`safetensors ${path}: file is ${buf.length} bytes, shorter than the 8-byte header length`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > MAX_HEADER || 8 + n > buf.length) {
    throw new DataError(`safetensors ${path}: header length ${n} exceeds the file (${buf.length} bytes): truncated or not safetensors`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new DataError(`safetensors ${path}: header is not valid JSON (${(err as Error).message})`);
  }
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (e.dtype !== 'F32') throw new DataError(`safetensors ${path}: tensor '${name}' has dtype ${e.dtype}; only F32 is supported`);
    const [begin, end] = e.data_offsets ?? [-1, -1];
    const count = (e.shape ?? []).reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && end <= data.length) || end - begin !== count * 4) {
      throw new DataError(
        `safetensors ${path}: tensor '${name}' data_offsets [${begin}, ${end}] do not fit shape [${e.shape}] within ${data.length} data bytes`,
      );
    }
    const copy = new Float32Array(count);
    new Uint8Array(copy.buffer).set(data.subarray(begin, end));
    tensors.set(name, { shape: e.shape ?? [], data: copy });
  }
  return { tensors, metadata };
}
