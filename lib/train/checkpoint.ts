import { genotypeHash } from '../cells/genotype.js';
import type { Genotype } from '../cells/genotype-types.js';
import type { ParameterStore } from '../engine/store.js';
import { ValidationError } from '../errors.js';
import { type NamedTensor, readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { IR_VERSION } from '../ir/types.js';

/** What a checkpoint says about the run it came from (stored as safetensors metadata). */
export interface CheckpointMeta {
  /** Format of this metadata. */
  format: 'nasnet-checkpoint-1';
  /** The IR version of the graph the parameters belong to. */
  irVersion: number;
  /** Optimizer steps done. */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** Anything else the writer wants to keep (genotype, N, F, data set, options): JSON values. */
  [key: string]: unknown;
}

/**
 * Saves every tensor of `store` (parameters, BN running statistics, optimizer state) and `meta`
 * in one safetensors file, atomically. Metadata values are JSON-encoded strings.
 *
 * @param path - the .safetensors file
 * @param store - the parameter store to save
 * @param meta - run facts: step, epoch, genotype, network options, ...
 */
export function saveCheckpoint(path: string, store: ParameterStore, meta: CheckpointMeta): void {
  const tensors = new Map<string, NamedTensor>();
  for (const name of store.names()) {
    const t = store.get(name);
    if (t) tensors.set(name, t);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = JSON.stringify(v);
  writeSafetensors(path, tensors, metadata);
}

/**
 * Reads a checkpoint written by {@link saveCheckpoint}.
 *
 * @param path - the .safetensors file
 * @returns its tensors and its metadata (JSON-decoded)
 */
export function readCheckpoint(path: string): { tensors: Map<string, NamedTensor>; meta: CheckpointMeta } {
  const { tensors, metadata } = readSafetensors(path);
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    try {
      meta[k] = JSON.parse(v);
    } catch {
      meta[k] = v;
    }
  }
  if (meta.format !== 'nasnet-checkpoint-1') {
    throw new ValidationError(`checkpoint ${path}: metadata format is ${String(meta.format)}, expected nasnet-checkpoint-1`);
  }
  return { tensors, meta: meta as CheckpointMeta };
}

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /**
   * true (default): a store that already holds tensors must get every one of them back, none
   * unknown, every shape equal, as PyTorch's `load_state_dict(strict=True)`; optimizer state and EMA
   * shadows (`<name>#...`) of the checkpoint's parameters that the store lacks are added. false: tensors the
   * store lacks are added, tensors the checkpoint lacks keep their values; shapes must still match.
   */
  strict?: boolean;
}

/**
 * Loads a checkpoint's tensors into `store` and returns its metadata. Everything is checked before
 * any value is replaced (the file's header: dtypes, shapes, byte ranges, a tensor listed twice; the
 * format and IR version; then the tensors against the store's), so a refused checkpoint leaves the
 * store as it was. An empty store takes every tensor of the checkpoint.
 *
 * @param path - the .safetensors file
 * @param store - where the tensors go
 * @param options - `strict` (default true)
 * @throws DataError for a damaged file; ValidationError naming the file and each difference
 * @example
 * const store = new ParameterStore();
 * const plan = await Plan.compile(net.inference, store, { batch: 1, training: false });
 * loadCheckpoint('model.safetensors', store); // refused if a tensor of the plan is missing or reshaped
 */
export function loadCheckpoint(path: string, store: ParameterStore, options: LoadCheckpointOptions = {}): CheckpointMeta {
  const strict = options.strict ?? true;
  if (typeof strict !== 'boolean') throw new ValidationError(`loadCheckpoint: expected boolean for strict but received ${JSON.stringify(strict)}`);
  const { tensors, meta } = readCheckpoint(path);
  const where = `checkpoint ${path}`;
  checkIrVersion(where, meta);
  const held = store.names();
  if (held.length > 0) {
    // Optimizer state and EMA shadows (`<name>#...`) of the checkpoint's own parameters may be
    // more than the store holds (an inference store has none); everything the store holds is needed.
    const required = strict ? held : [];
    const has = new Set(held);
    const unknown = strict ? [...tensors.keys()].filter((n) => !has.has(n) && !(n.includes('#') && tensors.has(n.slice(0, n.indexOf('#'))))) : [];
    checkTensors(where, tensors, store, required, unknown, 'store');
  }
  for (const [name, t] of tensors) store.set(name, t.data, store.get(name) ? undefined : t.shape);
  return meta;
}

function checkIrVersion(where: string, meta: CheckpointMeta): void {
  if (meta.irVersion !== IR_VERSION) throw new ValidationError(`${where}: IR version ${JSON.stringify(meta.irVersion)}, this nasnet writes ${IR_VERSION}`);
}

/**
 * Refuses, naming the file, a checkpoint that lacks one of `required`, holds one of `unknown`, or
 * holds a tensor of another shape than the store's.
 */
function checkTensors(where: string, tensors: Map<string, NamedTensor>, store: ParameterStore, required: string[], unknown: string[], holder: string): void {
  const missing = required.filter((n) => !tensors.has(n));
  if (missing.length > 0) throw new ValidationError(`${where}: lacks ${missing.length} tensors the ${holder} needs: ${some(missing)}`);
  if (unknown.length > 0) throw new ValidationError(`${where}: holds ${unknown.length} tensors the ${holder} does not have: ${some(unknown)}`);
  const shapes: [string, number[], number[]][] = [];
  for (const [n, t] of tensors) {
    const have = store.get(n)?.shape;
    if (have && have.join('x') !== t.shape.join('x')) shapes.push([n, t.shape, have]);
  }
  if (shapes.length > 0) {
    const [n, there, here] = shapes[0]!;
    throw new ValidationError(`${where}: ${shapes.length} tensors have another shape, e.g. '${n}' [${there}] where the ${holder} has [${here}]`);
  }
}

/** What a run that resumes from a checkpoint trains: the checkpoint must have been written for it. */
export interface ResumeTarget {
  genotype: Genotype;
  /** The network's resolved options (`buildNetwork(...).meta.options`). */
  network: object;
  /** The data set's name. */
  dataset: string;
}

/** The first few of a list, for a message. */
function some(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/**
 * Resumes training from a checkpoint into `store`, which the run's plans were compiled on (so it holds
 * exactly the tensors the run needs). Everything is checked before any value is replaced: the format,
 * the IR version, the step and epoch, the genotype (by canonical hash), the network options and the
 * data set it was written for, and its tensors against the store's (missing, extra, and shapes). A
 * checkpoint of another run is refused even when every shape matches, so it is never continued, and
 * never rewritten, by mistake; a missing tensor is never re-initialised.
 *
 * @param path - the .safetensors file
 * @param store - the run's store, with every tensor its plans use
 * @param target - what the run trains
 * @returns the checkpoint's metadata (step, epoch, ...)
 * @throws ValidationError naming the file and each difference
 */
export function resumeCheckpoint(path: string, store: ParameterStore, target: ResumeTarget): CheckpointMeta {
  const { tensors, meta } = readCheckpoint(path);
  const where = `checkpoint ${path}`;
  checkIrVersion(where, meta);
  for (const k of ['step', 'epoch'] as const) {
    if (typeof meta[k] !== 'number' || !Number.isSafeInteger(meta[k]) || meta[k] < 0) {
      throw new ValidationError(`${where}: ${k} is ${JSON.stringify(meta[k])}, expected a non-negative integer`);
    }
  }
  let written: string;
  try {
    written = genotypeHash(meta.genotype as Genotype);
  } catch (err) {
    throw new ValidationError(`${where}: its genotype is not valid (${(err as Error).message})`);
  }
  const wanted = genotypeHash(target.genotype);
  if (written !== wanted) {
    throw new ValidationError(`${where}: written for genotype ${written.slice(0, 12)}, but this run trains genotype ${wanted.slice(0, 12)} (another checkpoint path, or resume: false)`);
  }
  const net = (meta.network ?? {}) as Record<string, unknown>;
  const want = target.network as Record<string, unknown>;
  const differ = [...new Set([...Object.keys(net), ...Object.keys(want)])]
    .sort()
    .filter((k) => JSON.stringify(net[k]) !== JSON.stringify(want[k]))
    .map((k) => `${k} ${JSON.stringify(net[k])} there, ${JSON.stringify(want[k])} here`);
  if (differ.length > 0) throw new ValidationError(`${where}: written for other network options: ${differ.join('; ')}`);
  if (meta.dataset !== target.dataset) {
    throw new ValidationError(`${where}: written for data set ${JSON.stringify(meta.dataset)}, this run trains on ${JSON.stringify(target.dataset)}`);
  }
  const names = store.names();
  checkTensors(where, tensors, store, names, [...tensors.keys()].filter((n) => store.get(n) === undefined), 'run');
  for (const [name, t] of tensors) store.set(name, t.data);
  return meta;
}
