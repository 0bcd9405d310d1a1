import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../lib/errors.js';
import { readSafetensors, writeSafetensors } from '../lib/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'nasnet-st-'));

describe('safetensors', () => {
  it('round-trips tensors and metadata exactly', () => {
    const path = join(dir, 'a.safetensors');
    const w = new Float32Array([1.5, -2, 3.25, Math.PI, Number.MIN_VALUE, -0]);
    writeSafetensors(path, new Map([['layer/w', { shape: [2, 3], data: w }], ['b', { shape: [1], data: new Float32Array([7]) }]]), { step: '42' });
    const r = readSafetensors(path);
    expect(r.metadata).toEqual({ step: '42' });
    expect(r.tensors.get('layer/w')!.shape).toEqual([2, 3]);
    expect(Array.from(r.tensors.get('layer/w')!.data)).toEqual(Array.from(w));
    expect(Array.from(r.tensors.get('b')!.data)).toEqual([7]);
  });

  it('writes the standard layout: u64 header length, 8-byte aligned JSON header, sorted data', () => {
    const path = join(dir, 'b.safetensors');
    writeSafetensors(path, new Map([['z', { shape: [1], data: new Float32Array([2]) }], ['a', { shape: [1], data: new Float32Array([1]) }]]));
    const buf = readFileSync(path);
    const n = Number(buf.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    expect(header.a).toEqual({ dtype: 'F32', shape: [1], data_offsets: [0, 4] });
    expect(header.z).toEqual({ dtype: 'F32', shape: [1], data_offsets: [4, 8] });
    expect(buf.readFloatLE(8 + n)).toBe(1);
  });

  it('rejects truncated files and bad headers with the file name', () => {
    const path = join(dir, 'c.safetensors');
    writeSafetensors(path, new Map([['w', { shape: [4], data: new Float32Array(4) }]]));
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, full.length - 3));
    expect(() => readSafetensors(path)).toThrow(DataError);
    expect(() => readSafetensors(path)).toThrow(/tensor 'w' data_offsets \[0, 16\] do not fit/);
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expect(() => readSafetensors(path)).toThrow(/shorter than the 8-byte header length/);
    const bad = Buffer.alloc(16);
    bad.writeBigUInt64LE(8n);
    bad.write('{notjson', 8);
    writeFileSync(path, bad);
    expect(() => readSafetensors(path)).toThrow(/header is not valid JSON/);
    expect(() => readSafetensors(join(dir, 'missing.safetensors'))).toThrow(/missing.safetensors: cannot read/);
  });

  it('rejects a shape that disagrees with the data on write', () => {
    expect(() => writeSafetensors(join(dir, 'd.safetensors'), new Map([['w', { shape: [3], data: new Float32Array(2) }]]))).toThrow(
      /tensor 'w' has shape \[3\] \(3 values\) but 2 values/,
    );
  });
});
