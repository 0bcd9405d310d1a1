/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian
 * header `00 00 TT DD` (TT = element type, 0x08 for unsigned bytes; DD = number of dimensions),
 * then DD uint32 sizes, then the elements. Images are `0x00000803` (N × rows × cols), labels
 * `0x00000801` (N).
 */
import { DataError } from '../errors.js';
import { readMaybeGzip } from './gzip.js';

/** A parsed IDX array of unsigned bytes. */
export interface IdxArray {
  /** Sizes of each dimension, outermost first. */
  dims: number[];
  /** The elements, row-major (a view into the file's bytes). */
  data: Uint8Array;
}

const TYPE_NAMES = new Map<number, string>([
  [0x08, 'unsigned byte'],
  [0x09, 'signed byte'],
  [0x0b, 'short'],
  [0x0c, 'int'],
  [0x0d, 'float'],
  [0x0e, 'double'],
]);

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * Parse an IDX array of unsigned bytes with `ndims` dimensions.
 *
 * @param buf - the whole (decompressed) file.
 * @param file - the file's name, for error messages.
 * @param ndims - the number of dimensions expected (3 for images, 1 for labels).
 * @throws DataError naming the file, the offset and what was expected on a wrong magic number or a truncated file.
 * @example
 * const { dims, data } = parseIdx(bytes, 'train-labels-idx1-ubyte', 1); // dims = [60000]
 */
export function parseIdx(buf: Uint8Array, file: string, ndims: number): IdxArray {
  const expectedMagic = 0x0800 + ndims;
  const what = ndims === 1 ? 'labels' : ndims === 3 ? 'images' : `${ndims}-d array`;
  if (buf.length < 4) {
    throw new DataError(
      `${file}: file is ${buf.length} bytes, too short for the 4-byte IDX magic number (expected ${hex(expectedMagic)})`,
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    const type = TYPE_NAMES.get((magic >>> 8) & 0xff);
    const got = (magic & 0xffff0000) === 0 && type ? ` (${type}, ${magic & 0xff} dimensions)` : ' (not an IDX file)';
    throw new DataError(
      `${file}: wrong magic number ${hex(magic)}${got} at offset 0; expected ${hex(expectedMagic)} (unsigned byte, ${ndims} dimensions: ${what})`,
    );
  }
  const header = 4 + 4 * ndims;
  if (buf.length < header) {
    throw new DataError(`${file}: truncated header: ${buf.length} bytes, expected at least ${header} (magic + ${ndims} sizes)`);
  }
  const dims: number[] = [];
  let total = 1;
  for (let d = 0; d < ndims; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    total *= n;
  }
  const expected = header + total;
  if (buf.length !== expected) {
    const kind = buf.length < expected ? 'truncated' : 'has trailing bytes';
    throw new DataError(
      `${file}: ${kind}: ${buf.length} bytes, expected ${expected} (${header}-byte header + ${dims.join('×')} elements); data ends at offset ${buf.length}`,
    );
  }
  return { dims, data: buf.subarray(header, expected) };
}

/**
 * Read an IDX file (gzipped or not) and parse it.
 *
 * @param file - path to `*-idx3-ubyte[.gz]` (ndims 3) or `*-idx1-ubyte[.gz]` (ndims 1).
 * @param ndims - number of dimensions expected.
 * @example
 * const images = await readIdxFile('t10k-images-idx3-ubyte.gz', 3); // dims = [10000, 28, 28]
 */
export async function readIdxFile(file: string, ndims: number): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(file), file, ndims);
}

/**
 * Encode unsigned bytes as an IDX array (the inverse of {@link parseIdx}); used to write the
 * embedded mini data set and test fixtures.
 *
 * @param dims - sizes of each dimension; their product must equal `data.length`.
 * @param data - the elements, row-major.
 * @example
 * const bytes = encodeIdx([2], Uint8Array.from([3, 7])); // a labels file of 2 labels
 */
export function encodeIdx(dims: number[], data: Uint8Array): Buffer {
  const total = dims.reduce((a, b) => a * b, 1);
  if (total !== data.length) {
    throw new DataError(`encodeIdx: dims ${dims.join('×')} hold ${total} elements but data has ${data.length}`);
  }
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((n, i) => {
    out.writeUInt32BE(n, 4 + 4 * i);
  });
  out.set(data, 4 + 4 * dims.length);
  return out;
}
