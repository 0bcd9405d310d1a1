/**
 * The wire format of distributed children (BullMQ over Redis): the job payload the controller
 * sends, the result a worker returns, and the job id. Both ends validate with the same checks (the
 * package's one validator module), so a malformed payload fails with a message naming the field, at
 * whichever end sees it first.
 */
import { createHash } from 'node:crypto';
import { genotypeHash, validateGenotype } from '../cells/genotype.js';
import { ValidationError } from '../errors.js';
import { checkArray, checkBoolean, checkInteger, checkNumber, checkObject, checkString, invalid, received } from '../util/check.js';
import type { ChildJob, ChildResult, ProxyConfig } from './types.js';

/** Version of the payload envelope; a worker refuses other versions with a clear error. */
export const JOB_PAYLOAD_VERSION = 1;

const PROXY_KEYS = [
  'cellsPerStack',
  'filters',
  'stemMultiplier',
  'epochs',
  'batchSize',
  'lr',
  'weightDecay',
  'dropPathKeep',
  'auxHead',
  'maxBatchesPerEpoch',
  'maxValidationImages',
] as const satisfies readonly (keyof ProxyConfig)[];
const JOB_KEYS = ['runId', 'id', 'genotype', 'hash', 'seed', 'dataset', 'dataDir', 'proxy'] as const satisfies readonly (keyof ChildJob)[];
const RESULT_KEYS = ['accuracy', 'curve', 'params', 'multAdds', 'seconds', 'diverged', 'error'] as const satisfies readonly (keyof ChildResult)[];

/**
 * A proxy configuration, every field checked (a job payload's, a new search's, a resumed config.json's).
 * @param value - the proxy object
 * @param where - who checks, named in the message (e.g. the file)
 */
export function parseProxy(value: unknown, where: string): ProxyConfig {
  const p = checkObject(value, 'proxy', { known: PROXY_KEYS, where });
  const count = (k: keyof ProxyConfig, min: number): number => checkInteger(p[k], `proxy.${k}`, { min, where });
  return {
    cellsPerStack: count('cellsPerStack', 1),
    filters: count('filters', 1),
    stemMultiplier: count('stemMultiplier', 1),
    epochs: count('epochs', 1),
    batchSize: count('batchSize', 1),
    lr: checkNumber(p.lr, 'proxy.lr', { min: 0, minOpen: true, where }),
    weightDecay: checkNumber(p.weightDecay, 'proxy.weightDecay', { min: 0, where }),
    dropPathKeep: checkNumber(p.dropPathKeep, 'proxy.dropPathKeep', { min: 0, max: 1, minOpen: true, where }),
    auxHead: checkBoolean(p.auxHead, 'proxy.auxHead', { where }),
    maxBatchesPerEpoch: count('maxBatchesPerEpoch', 0),
    maxValidationImages: count('maxValidationImages', 0),
  };
}

function parseChildJob(value: unknown): ChildJob {
  const where = 'child job payload';
  const j = checkObject(value, 'job', { known: JOB_KEYS, where });
  const runId = checkString(j.runId, 'runId', { where });
  const id = checkInteger(j.id, 'id', { min: 0, where });
  let genotype: ChildJob['genotype'];
  try {
    genotype = validateGenotype(j.genotype);
  } catch (err) {
    throw new ValidationError(`${where}: genotype: ${(err as Error).message}`);
  }
  const hash = checkString(j.hash, 'hash', { where });
  if (!/^[0-9a-f]{64}$/.test(hash)) throw invalid('hash', '64 hex characters (the canonical genotype hash)', received(hash), where);
  const canonical = genotypeHash(genotype);
  if (hash !== canonical) throw invalid('hash', `the genotype's own hash (${canonical.slice(0, 12)}…)`, `${hash.slice(0, 12)}…`, where);
  const seed = checkInteger(j.seed, 'seed', { min: 0, where });
  const dataset = checkString(j.dataset, 'dataset', { where });
  const dataDir = j.dataDir === undefined ? undefined : checkString(j.dataDir, 'dataDir', { where });
  const proxy = parseProxy(j.proxy, where);
  return { runId, id, genotype, hash, seed, dataset, ...(dataDir === undefined ? {} : { dataDir }), proxy };
}

/** What the controller puts in a BullMQ job's `data`. */
export interface JobPayload {
  v: typeof JOB_PAYLOAD_VERSION;
  job: ChildJob;
}

/**
 * Checks a child job and wraps it in the versioned envelope the workers expect.
 *
 * @param job - the child, as the search made it
 * @returns `{ v: 1, job }` (a clean copy, JSON-safe)
 * @throws ValidationError naming the field, e.g. `child job payload: expected positive integer for proxy.batchSize but received 0 of type number`
 * @example
 * await queue.add('child', encodeJobPayload(job), { jobId: childJobId(job) });
 */
export function encodeJobPayload(job: ChildJob): JobPayload {
  return { v: JOB_PAYLOAD_VERSION, job: parseChildJob(job) };
}

/**
 * Validates what a worker pulled from the queue: the envelope version and every field of the job,
 * including that the genotype is in the search space and matches its hash.
 *
 * @param raw - the BullMQ job's `data` (parsed JSON, anything)
 * @returns the child job
 * @throws ValidationError, e.g. `child job payload: genotype: normal block 0: ...` or
 *   `child job payload: expected payload version 1 for v but received 2 ...`
 * @example
 * const job = parseJobPayload(bullJob.data);
 */
export function parseJobPayload(raw: unknown): ChildJob {
  const where = 'child job payload';
  const env = checkObject(raw, 'payload', { known: ['v', 'job'], where });
  if (env.v !== JOB_PAYLOAD_VERSION) {
    throw invalid('v', `payload version ${JOB_PAYLOAD_VERSION}`, `${received(env.v)} (controller and worker run different nasnet versions)`, where);
  }
  return parseChildJob(env.job);
}

/**
 * Validates a worker's result (its return value, stored by BullMQ).
 *
 * @param raw - the return value (anything)
 * @param where - named in the error, e.g. the job id
 * @throws ValidationError, e.g. `result of job r1.ab12.5: expected finite number in [0, 1] for accuracy but received 3 of type number`
 * @example
 * const result = parseChildResult(job.returnvalue, job.id);
 */
export function parseChildResult(raw: unknown, where: string): ChildResult {
  const w = `result of job ${where}`;
  const r = checkObject(raw, 'result', { known: RESULT_KEYS, where: w });
  // A diverged epoch's NaN travels as JSON null and comes back as NaN (as in a local search).
  const curve = checkArray(r.curve, 'curve', { where: w }).map((v, i) => (v === null ? Number.NaN : checkNumber(v, `curve[${i}]`, { where: w })));
  const result: ChildResult = {
    accuracy: checkNumber(r.accuracy, 'accuracy', { min: 0, max: 1, where: w }),
    curve,
    params: checkInteger(r.params, 'params', { min: 0, where: w }),
    multAdds: checkInteger(r.multAdds, 'multAdds', { min: 0, where: w }),
    seconds: checkNumber(r.seconds, 'seconds', { min: 0, where: w }),
    diverged: checkBoolean(r.diverged, 'diverged', { where: w }),
  };
  if (r.error !== undefined) result.error = checkString(r.error, 'error', { allowEmpty: true, where: w });
  return result;
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
