import { binding } from '../binding.js';
import type { NativeStoreInstance, NativeTensor } from '../binding-types.js';
import { ValidationError } from '../errors.js';

/**
 * Named float32 tensors (weights, BN running statistics, optimizer state) shared by every
 * {@link Plan} bound to the store: two plans that name the same parameter share it, so a training
 * plan's updates are seen by an evaluation plan, and transfer is a matter of names.
 *
 * Optimizer state is stored beside each parameter as `<name>#momentum` (SGD) or `<name>#ms` and
 * `<name>#mom` (RMSProp), so a checkpoint of the store resumes training exactly.
 *
 * @example
 * const store = new ParameterStore();
 * const plan = await Plan.compile(graph, store, { batch: 32 });
 * store.get('stem/conv/W')?.shape; // [96, 3, 3, 3]
 */
export class ParameterStore {
  /** @internal the native object */
  readonly native: NativeStoreInstance;

  constructor() {
    this.native = new (binding().NativeStore)();
  }

  /** Every tensor name, sorted. */
  names(): string[] {
    return this.native.names();
  }

  /** A copy of the tensor `name`, or undefined when the store has none. */
  get(name: string): NativeTensor | undefined {
    return this.native.get(name);
  }

  /**
   * Sets the tensor `name` from `data` (copied). An existing tensor keeps its shape and the length must
   * match; a new one needs `shape`.
   *
   * @param name - tensor name, e.g. `cell0/block0/left/sep_conv_3x3/dw1/W`
   * @param data - values, row-major
   * @param shape - dimensions, required when `name` is new
   */
  set(name: string, data: Float32Array, shape?: number[]): void {
    if (!(data instanceof Float32Array)) throw new ValidationError(`Expected Float32Array for data of '${name}'`);
    try {
      this.native.set(name, data, shape);
    } catch (err) {
      throw new ValidationError(`store.set('${name}'): ${(err as Error).message}`);
    }
  }

  /** Removes `name`; returns whether it existed. */
  remove(name: string): boolean {
    return this.native.remove(name);
  }
}
