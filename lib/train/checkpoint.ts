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

/**
 * Loads a checkpoint's tensors into `store` (replacing tensors of the same name; the shapes of
 * existing tensors must match) and returns its metadata.
 *
 * @param path - the .safetensors file
 * @param store - where the tensors go
 */
export function loadCheckpoint(path: string, store: ParameterStore): CheckpointMeta {
  const { tensors, meta } = readCheckpoint(path);
  for (const [name, t] of tensors) {
    const existing = store.get(name);
    if (existing && existing.shape.join('x') !== t.shape.join('x')) {
      throw new ValidationError(`checkpoint ${path}: tensor '${name}' has shape [${t.shape}] but the store holds [${existing.shape}]`);
    }
    store.set(name, t.data, existing ? undefined : t.shape);
  }
  return meta;
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
  if (meta.irVersion !== IR_VERSION) throw new ValidationError(`${where}: IR version ${String(meta.irVersion)}, this nasnet writes ${IR_VERSION}`);
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
  const missing = names.filter((n) => !tensors.has(n));
  const extra = [...tensors.keys()].filter((n) => store.get(n) === undefined);
  if (missing.length > 0) throw new ValidationError(`${where}: lacks ${missing.length} tensors the run needs: ${some(missing)}`);
  if (extra.length > 0) throw new ValidationError(`${where}: holds ${extra.length} tensors the run does not have: ${some(extra)}`);
  const shapes = names.filter((n) => tensors.get(n)!.shape.join('x') !== store.get(n)!.shape.join('x'));
  if (shapes.length > 0) {
    const n = shapes[0]!;
    throw new ValidationError(`${where}: ${shapes.length} tensors have another shape, e.g. '${n}' [${tensors.get(n)!.shape}] where the run has [${store.get(n)!.shape}]`);
  }
  for (const [name, t] of tensors) store.set(name, t.data);
  return meta;
}
