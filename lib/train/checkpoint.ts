import type { ParameterStore } from '../engine/store.js';
import { ValidationError } from '../errors.js';
import { type NamedTensor, readSafetensors, writeSafetensors } from '../io/safetensors.js';

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
