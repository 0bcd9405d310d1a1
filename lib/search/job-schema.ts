/**
 * The wire format of distributed children (BullMQ over Redis): the job payload the controller
 * sends, the result a worker returns, and the job id. Both ends validate with the same schemas, so
 * a malformed payload fails with a message naming the field, at whichever end sees it first.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { genotypeHash, validateGenotype } from '../cells/genotype.js';
import { ValidationError } from '../errors.js';
import type { ChildJob, ChildResult, ProxyConfig } from './types.js';

/** Version of the payload envelope; a worker refuses other versions with a clear error. */
export const JOB_PAYLOAD_VERSION = 1;

const posInt = z.number().int().min(1);
const nonNegInt = z.number().int().min(0);
const finite = z.number().refine(Number.isFinite, 'expected a finite number');

const proxySchema = z.strictObject({
  cellsPerStack: posInt,
  filters: posInt,
  stemMultiplier: posInt,
  epochs: posInt,
  batchSize: posInt,
  lr: finite.refine((v) => v > 0, 'expected a positive learning rate'),
  weightDecay: finite.refine((v) => v >= 0, 'expected weightDecay >= 0'),
  dropPathKeep: finite.refine((v) => v > 0 && v <= 1, 'expected dropPathKeep in (0, 1]'),
  auxHead: z.boolean(),
  maxBatchesPerEpoch: nonNegInt,
  maxValidationImages: nonNegInt,
}) satisfies z.ZodType<ProxyConfig>;

const jobSchema = z
  .strictObject({
    runId: z.string().min(1),
    id: nonNegInt,
    genotype: z.unknown(),
    hash: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex characters (the canonical genotype hash)'),
    seed: nonNegInt,
    dataset: z.string().min(1),
    dataDir: z.string().min(1).optional(),
    proxy: proxySchema,
  })
  .superRefine((job, ctx) => {
    try {
      const g = validateGenotype(job.genotype);
      if (genotypeHash(g) !== job.hash) ctx.addIssue({ code: 'custom', path: ['hash'], message: `does not match the genotype (its hash is ${genotypeHash(g).slice(0, 12)}…)` });
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['genotype'], message: err instanceof Error ? err.message : String(err) });
    }
  });

const payloadSchema = z.strictObject({ v: z.literal(JOB_PAYLOAD_VERSION), job: z.unknown() });

const resultSchema = z.strictObject({
  accuracy: finite.refine((v) => v >= 0 && v <= 1, 'expected an accuracy in [0, 1]'),
  // A diverged epoch's NaN travels as JSON null and comes back as NaN (as in a local search).
  curve: z.array(z.union([finite, z.null()]).transform((v) => v ?? Number.NaN)),
  params: nonNegInt,
  multAdds: nonNegInt,
  seconds: finite.refine((v) => v >= 0, 'expected seconds >= 0'),
  diverged: z.boolean(),
  error: z.string().optional(),
});

/** What the controller puts in a BullMQ job's `data`. */
export interface JobPayload {
  v: typeof JOB_PAYLOAD_VERSION;
  job: ChildJob;
}

function issues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Checks a child job and wraps it in the versioned envelope the workers expect.
 *
 * @param job - the child, as the search made it
 * @returns `{ v: 1, job }` (a clean copy, JSON-safe)
 * @throws ValidationError naming the field, e.g. `child job payload: proxy.batchSize: Too small: expected number to be >=1`
 * @example
 * await queue.add('child', encodeJobPayload(job), { jobId: childJobId(job) });
 */
export function encodeJobPayload(job: ChildJob): JobPayload {
  return { v: JOB_PAYLOAD_VERSION, job: parseChildJob(job) };
}

function parseChildJob(value: unknown): ChildJob {
  const r = jobSchema.safeParse(value);
  if (!r.success) throw new ValidationError(`child job payload: ${issues(r.error)}`);
  return { ...r.data, genotype: validateGenotype(r.data.genotype) };
}

/**
 * Validates what a worker pulled from the queue: the envelope version and every field of the job,
 * including that the genotype is in the search space and matches its hash.
 *
 * @param raw - the BullMQ job's `data` (parsed JSON, anything)
 * @returns the child job
 * @throws ValidationError, e.g. `child job payload: genotype: normal block 0: ...` or
 *   `child job payload: v: expected payload version 1 ...`
 * @example
 * const job = parseJobPayload(bullJob.data);
 */
export function parseJobPayload(raw: unknown): ChildJob {
  const env = payloadSchema.safeParse(raw);
  if (!env.success) {
    const v = (raw as { v?: unknown } | null)?.v;
    if (raw !== null && typeof raw === 'object' && v !== undefined && v !== JOB_PAYLOAD_VERSION) {
      throw new ValidationError(`child job payload: v: expected payload version ${JOB_PAYLOAD_VERSION} but received ${JSON.stringify(v)} (controller and worker run different nasnet versions)`);
    }
    throw new ValidationError(`child job payload: ${issues(env.error)}`);
  }
  return parseChildJob(env.data.job);
}

/**
 * Validates a worker's result (its return value, stored by BullMQ).
 *
 * @param raw - the return value (anything)
 * @param where - named in the error, e.g. the job id
 * @throws ValidationError, e.g. `result of job r1.ab12.5: accuracy: expected an accuracy in [0, 1]`
 * @example
 * const result = parseChildResult(job.returnvalue, job.id);
 */
export function parseChildResult(raw: unknown, where: string): ChildResult {
  const r = resultSchema.safeParse(raw);
  if (!r.success) throw new ValidationError(`result of job ${where}: ${issues(r.error)}`);
  return r.data;
}

/** A run id as it appears in job ids: letters, digits, `_`, `-` (everything else becomes `_`). */
export function safeRunId(runId: string): string {
  return runId.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The BullMQ job id of a child: `<runId>.<hash16>.<seed>.<config8>`. It derives from the run, the
 * canonical genotype hash, the seed, and a short hash of the data set and proxy configuration, so
 * the same child of the same run is one job (never trained twice by accident), while two runs with
 * the same folder name but different proxies do not collide. BullMQ refuses `:` in custom ids,
 * hence the dots.
 *
 * @param job - runId, hash, seed, dataset, proxy
 * @example childJobId(job) // 'run-7.3f9a0c1d2e4b5a69.5000015.1a2b3c4d'
 */
export function childJobId(job: Pick<ChildJob, 'runId' | 'hash' | 'seed' | 'dataset' | 'proxy'>): string {
  const p = job.proxy;
  const keys = Object.keys(p).sort() as (keyof ProxyConfig)[];
  const canon = JSON.stringify([job.dataset, keys.map((k) => [k, p[k]])]);
  const config = createHash('sha256').update(canon).digest('hex').slice(0, 8);
  return `${runIdPrefix(job.runId)}${job.hash.slice(0, 16)}.${job.seed}.${config}`;
}

/** The prefix every job id of a run starts with (for status and clean-up). */
export function runIdPrefix(runId: string): string {
  return `${safeRunId(runId)}.`;
}
