/**
 * The error classes nasnet throws. Messages name the file, field, node or index at fault and what
 * was expected, e.g. `Expected positive integer for batchSize but received -3 of type number`.
 */

/** Bad input from the caller: an option, a genotype, an IR graph, a shape. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
}

/** A failure reported by the native engine (its message names the node and op where it can). */
export class NativeError extends Error {
  override readonly name = 'NativeError';
}

/** A requested backend (CUDA, cuDNN) is not available on this machine; the message says why. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

/** Bad or missing data: a corrupt file, a wrong magic number, a checksum mismatch, a missing folder. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** The native addon could not be loaded; the message lists every path tried, its cause and the fix. */
export class AddonLoadError extends Error {
  override readonly name = 'AddonLoadError';
}
