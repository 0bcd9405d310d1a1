import { NativeError, ValidationError } from '../errors.js';

/**
 * Awaits a native step (`trainStep`, `evaluate`, `predict`) and turns its failure into the error the
 * public API throws: a wrong call (RangeError, TypeError or code `ERR_NASNET_MISUSE`) becomes a
 * {@link ValidationError}, anything else a {@link NativeError} naming `what`.
 *
 * The error is created here, after the `await`, so V8's async stack traces give it the callers that
 * await the step (`at async Plan.predict`, `at async <your function>`) at no cost per call: each
 * caller must `await` this (not return it), or its frame is missing. (Capturing `new Error().stack`
 * on every call instead cost 10–20 µs a step, a tenth of a small network's batch-1 `predict`.)
 *
 * @example
 * return await awaitNativeStep('predict', () => plan.predict(images));
 */
export async function awaitNativeStep<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const native = err as Error & { code?: string };
    const misuse = native instanceof RangeError || native instanceof TypeError || native.code === 'ERR_NASNET_MISUSE';
    throw misuse ? new ValidationError(native.message) : new NativeError(`${what}: ${native.message}`);
  }
}
