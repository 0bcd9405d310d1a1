import { describe, expect, it } from 'vitest';
import { awaitNativeStep } from '../lib/engine/native-step.js';
import { NativeError, ValidationError } from '../lib/errors.js';

/** A native step that fails after the call returned, as a step failing on its thread does. */
const failLater = (error: Error) => () => new Promise<never>((_, reject) => setTimeout(() => reject(error), 1));

describe('awaitNativeStep', () => {
  it('passes a step result through', async () => {
    expect(await awaitNativeStep('predict', async () => Float32Array.of(1, 2))).toEqual(Float32Array.of(1, 2));
  });

  it('makes a misuse a ValidationError and anything else a NativeError naming the step', async () => {
    await expect(awaitNativeStep('predict', failLater(new RangeError('images: wrong length')))).rejects.toThrow(
      new ValidationError('images: wrong length'),
    );
    const misuse = Object.assign(new Error('plan is busy'), { code: 'ERR_NASNET_MISUSE' });
    await expect(awaitNativeStep('evaluate', failLater(misuse))).rejects.toBeInstanceOf(ValidationError);
    const failed = awaitNativeStep('trainStep', failLater(new Error('cpu: out of memory during a step')));
    await expect(failed).rejects.toBeInstanceOf(NativeError);
    await expect(failed).rejects.toThrow('trainStep: cpu: out of memory during a step');
  });

  it("gives an asynchronous failure the awaiting callers' frames", async () => {
    async function stepOfThePlan() {
      return await awaitNativeStep('predict', failLater(new Error('boom')));
    }
    async function callerOfThePlan() {
      await stepOfThePlan();
    }
    const err = await callerOfThePlan().catch((e: Error) => e);
    expect(err).toBeInstanceOf(NativeError);
    expect(err?.stack).toMatch(/at (async )?stepOfThePlan/);
    expect(err?.stack).toMatch(/at (async )?callerOfThePlan/);
  });
});
