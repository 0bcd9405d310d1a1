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
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new DataError(`safetensors ${path}: header is not a JSON object`);
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || Object.values(entry).some((v) => typeof v !== 'string')) {
        throw new DataError(`safetensors ${path}: __metadata__ must map names to strings`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw new DataError(`safetensors ${path}: tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; only F32 is supported`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new DataError(`safetensors ${path}: tensor '${name}' has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o))) {
      throw new DataError(`safetensors ${path}: tensor '${name}' has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] in bytes`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && end <= data.length) || end - begin !== count * 4) {
      throw new DataError(
        `safetensors ${path}: tensor '${name}' data_offsets [${begin}, ${end}] do not fit shape [${shape}] within ${data.length} data bytes`,
      );
    }
    ranges.push([begin, end, name]);
    const copy = new Float32Array(count);
    new Uint8Array(copy.buffer).set(data.subarray(begin, end));
    tensors.set(name, { shape: shape as number[], data: copy });
  }
  // The format indexes the whole byte buffer without holes or overlaps: anything else is a damaged
  // header (a tensor listed twice keeps only its last entry in JSON, leaving a hole).
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, name] of ranges) {
    if (begin < at) throw new DataError(`safetensors ${path}: tensor '${name}' bytes [${begin}, ${end}) overlap another tensor's`);
    if (begin > at) throw new DataError(`safetensors ${path}: bytes [${at}, ${begin}) belong to no tensor (a damaged header, or a tensor listed twice)`);
    at = end;
  }
  if (at !== data.length) throw new DataError(`safetensors ${path}: bytes [${at}, ${data.length}) belong to no tensor (a damaged header, or a tensor listed twice)`);
  return { tensors, metadata };
}
