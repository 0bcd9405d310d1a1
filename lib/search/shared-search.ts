/**
 * The weight-sharing search loop (ENAS, Pham et al. 2018), for any strategy with `sample()`:
 *
 * Round r:
 *   (a) train: `stepsPerRound` SGD steps of the shared weights, each on the next training minibatch
 *       and a child sampled from the current policy (`strategy.sample(1)`; a new child every
 *       `stepsPerChild` steps and at the start of the round; 1 by default, as in ENAS);
 *   (b) score: `childrenPerRound` children proposed by the strategy, each scored with the shared
 *       weights on validation batch r (batch statistics; see supernet.ts), recorded in
 *       `history.jsonl` (`scoredBy: 'shared'`, `round: r`) and observed by the strategy (PPO updates
 *       every `updateEvery` children, evolution ages its population, ...).
 * Then the final phase: the best `candidates` distinct children by their round's score are scored
 * again on the final weights over `finalScoreImages` validation images (`final.jsonl`), and the best
 * `retrainTop` of those are trained standalone from scratch with the proxy configuration by the
 * executor (`retrain.jsonl`); the search's best is the best of these by standalone accuracy.
 *
 * Time budget (`maxSeconds`, see budget.ts): a step, a score, a final re-score or a retraining starts
 * only when it is expected to end within the budget together with the rest of its round's scoring
 * and the final phase; a cut round goes straight to the final phase. At least one child is scored,
 * re-scored and retrained, so the result is always a standalone score.
 *
 * Resume: `shared.safetensors` holds the shared weights with their momentum and BN statistics, and in
 * its metadata the strategy's whole state and the position (phase, round, step); it is replaced
 * atomically at the end of every phase and every `checkpointEvery` steps. A resumed search continues
 * from it: training steps after the last checkpoint are run again (the same batches and the same
 * sampled children, so the same weights), children already recorded in `history.jsonl` are observed
 * with their recorded reward rather than scored again, and the final phase skips the children already
 * in `final.jsonl` and `retrain.jsonl`. Nothing recorded is lost or recorded twice.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { genotypeHash, validateGenotype } from '../cells/genotype.js';
import type { Genotype } from '../cells/genotype-types.js';
import type { StrategyState } from '../controller/create-strategy.js';
import { createLoader } from '../data/loader.js';
import type { Batch } from '../data/types.js';
import { ValidationError } from '../errors.js';
import { IR_VERSION } from '../ir/types.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { cosineLr } from '../train/schedule.js';
import { BatchStream } from './batch-stream.js';
import { childBackend, childCounts } from './child.js';
import type { ResolvedShared } from './config.js';
import { childJob, overConstraints, type SearchContext } from './context.js';
import { proxySteps } from './halving.js';
import { readProposals } from './run-check.js';
import type { SharedSummary } from './search.js';
import { SharedSupernet } from './supernet.js';
import type { HistoryEntry } from './types.js';

/** Where a shared search stands; saved in the checkpoint's metadata. */
interface Position {
  phase: 'train' | 'score' | 'final';
  round: number;
  /** Training steps done in all. */
  step: number;
  /** The child being trained when `step` is not a multiple of `stepsPerChild`. */
  child?: Genotype;
}

/** One line of `final.jsonl`: a candidate scored on the final shared weights. */
interface FinalScore {
  id: number;
  hash: string;
  genotype: Genotype;
  score: number;
  images: number;
}

const CHECKPOINT = 'shared.safetensors';
/** Shared steps timed (after a call's first) before training may stop for lack of time. */
const MIN_TIMED_STEPS = 3;

/** What the shared weights and the schedule depend on: a checkpoint resumes only the run that wrote it. */
function runFacts(config: SearchContext['config']): Record<string, unknown> {
  return { runId: config.runId, dataset: config.dataset, seed: config.seed, blocks: config.blocks, strategy: config.strategy, proxy: config.proxy, shared: config.shared };
}

/** Refuses a shared checkpoint written for another run (or by a nasnet that did not record its run), naming each difference. */
function checkRunFacts(path: string, written: unknown, here: Record<string, unknown>): void {
  if (written === null || typeof written !== 'object' || Array.isArray(written)) {
    throw new ValidationError(`${path}: does not say which run wrote it (no 'run' in its metadata): it cannot be told apart from another run's weights; move it away to start the shared phase again`);
  }
  const there = written as Record<string, unknown>;
  // Key order differs between a configuration made now and one read back from config.json.
  const text = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
  const differ = Object.keys(here)
    .filter((k) => text(there[k]) !== text(here[k]))
    .map((k) => `${k} ${JSON.stringify(there[k])} there, ${JSON.stringify(here[k])} in config.json`);
  if (differ.length > 0) throw new ValidationError(`${path}: written for another run: ${differ.join('; ')}`);
}

/** The checkpoint's position in the schedule, each field checked. */
function checkPosition(path: string, value: unknown): Position {
  const p = value as Partial<Position> | null;
  const bad = (what: string) => new ValidationError(`${path}: position ${JSON.stringify(value)}: ${what}`);
  if (p === null || typeof p !== 'object') throw bad('expected an object { phase, round, step }');
  if (!['train', 'score', 'final'].includes(p.phase as string)) throw bad(`phase must be train, score or final`);
  for (const k of ['round', 'step'] as const) if (typeof p[k] !== 'number' || !Number.isSafeInteger(p[k]) || (p[k] as number) < 0) throw bad(`${k} must be a non-negative integer`);
  if (p.child !== undefined) {
    try {
      validateGenotype(p.child);
    } catch (err) {
      throw bad(`child: ${(err as Error).message}`);
    }
  }
  return p as Position;
}

/**
 * Runs the shared mode to its end (see the module comment).
 *
 * @param ctx - configuration (with `shared`), run folder, strategy, recorder, data set, executor, time budget
 * @returns the children retrained standalone, best first, and a summary
 */
export async function runShared(ctx: SearchContext): Promise<{ retrained: HistoryEntry[]; summary: SharedSummary }> {
  const { config, run, strategy, recorder, dataset, executor } = ctx;
  const cfg: ResolvedShared = config.shared!;
  const proxy = config.proxy;
  if (typeof strategy.sample !== 'function') {
    throw new ValidationError(`strategy '${strategy.name}' has no sample(): the shared mode trains its weights on children sampled from the strategy`);
  }
  const info = dataset.info;
  const supernet = new SharedSupernet({
    network: { cellsPerStack: proxy.cellsPerStack, filters: proxy.filters, stemMultiplier: proxy.stemMultiplier, numClasses: info.classes, inputSize: [info.height, info.width], inputChannels: info.channels },
    batchSize: proxy.batchSize,
    scoreBatch: cfg.scoreImages,
    seed: config.seed,
    cache: cfg.planCache,
    backend: ctx.backend ?? childBackend(),
  });

  // Where we are: from the checkpoint, or the start.
  let pos: Position = { phase: 'train', round: 0, step: 0 };
  const checkpointPath = run.file(CHECKPOINT);
  if (existsSync(checkpointPath)) {
    const meta = loadCheckpoint(checkpointPath, supernet.store);
    checkRunFacts(checkpointPath, meta.run, runFacts(config));
    pos = checkPosition(checkpointPath, meta.position);
    try {
      strategy.load(meta.strategy as StrategyState);
    } catch (err) {
      throw new ValidationError(`${checkpointPath}: its strategy state does not load (${(err as Error).message})`);
    }
  } else if (recorder.history.length > 0) {
    throw new ValidationError(`${run.path}: history.jsonl holds ${recorder.history.length} children but ${CHECKPOINT} is missing; the shared weights they were scored with are lost`);
  }
  const checkpoint = () =>
    saveCheckpoint(checkpointPath, supernet.store, { format: 'nasnet-checkpoint-1', irVersion: IR_VERSION, step: pos.step, epoch: 0, position: pos, strategy: strategy.state(), run: runFacts(config) });

  const trainLoader = createLoader(dataset.train, { batchSize: proxy.batchSize, shuffle: true, seed: config.seed, augment: dataset.defaultAugment, dropLast: true });
  const valLoader = createLoader(dataset.validation, { batchSize: cfg.scoreImages, dropLast: dataset.validation.size >= cfg.scoreImages });
  if (dataset.validation.size < cfg.scoreImages) {
    throw new ValidationError(`shared.scoreImages ${cfg.scoreImages} is larger than the validation split of ${config.dataset} (${dataset.validation.size} images)`);
  }
  const valBatches = new Map<number, Batch>();
  const valBatch = async (i: number): Promise<Batch> => {
    const k = i % valLoader.batchesPerEpoch;
    let b = valBatches.get(k);
    if (!b) {
      const it = valLoader.epoch(0, k);
      b = (await it.next()).value as Batch;
      await it.return();
      valBatches.set(k, b);
    }
    return b;
  };

  const rounds = Math.ceil(config.children / cfg.childrenPerRound);
  const totalSteps = rounds * cfg.stepsPerRound;
  const time = { train: 0, score: 0, retrain: 0 };
  const stepsAtStart = pos.step;
  const finalBatches = Math.min(cfg.finalScoreImages / cfg.scoreImages, valLoader.batchesPerEpoch);
  // The time budget (see budget.ts): every unit starts only when it, the scoring of its round and the
  // final phase after it are expected to end within it. Estimates are the mean times so far in this
  // call; before the first score, a score is a third of a step per training image (a forward pass);
  // a retraining not yet timed is its steps at the shortest shared step so far and its validation at
  // the score time, which leaves out the start of a worker process: a retraining runs one plan, so
  // its steps are warm, while most shared steps compile a plan for a child met for the first time
  // and touch its memory first (the mean shared step was ~1.8× a warm one at the 1@192 proxy).
  // Training stops for lack of time only once a few steps are timed: the first steps of a call
  // allocate the plan cache's memory and are slower than the rest, and one of them alone had made a
  // 150 s search reserve its whole budget for 5 retrainings and stop after 2 steps.
  const { budget } = ctx;
  const valImages = proxy.maxValidationImages > 0 ? Math.min(proxy.maxValidationImages, dataset.validation.size) : dataset.validation.size;
  const stepTime = () => budget.mean('step') ?? 0;
  const scoreTime = () => budget.mean('score') ?? (stepTime() * cfg.scoreImages) / (3 * proxy.batchSize);
  const finalTime = () => budget.mean('final') ?? finalBatches * scoreTime();
  const retrainTime = () => budget.mean('retrain') ?? proxySteps(proxy, dataset.train.size) * (budget.min('step') ?? 0) + (valImages / cfg.scoreImages) * scoreTime();
  const timedSteps = () => budget.count('step') >= MIN_TIMED_STEPS;
  const retrainReserve = () => Math.ceil(cfg.retrainTop / executor.concurrency) * retrainTime();
  const scoredHashes = new Set(recorder.history.filter((h) => h.scoredBy === 'shared' && !h.rejected && !h.error).map((h) => h.hash));
  const reserve = () => Math.min(cfg.candidates, scoredHashes.size + 1) * finalTime() + retrainReserve();
  const byId = new Map(recorder.history.map((h) => [h.id, h]));
  const roundScores = () => Math.max(0, Math.min(cfg.childrenPerRound, config.children - pos.round * cfg.childrenPerRound));
  const proposed = new Set(readProposals(run).keys());

  const stream = new BatchStream(trainLoader, pos.step);
  let lossSum = 0;
  let lossCount = 0;
  try {
    while (pos.phase !== 'final') {
      if (pos.phase === 'train') {
        const end = (pos.round + 1) * cfg.stepsPerRound;
        while (pos.step < end) {
          if (timedSteps() && !budget.fits(stepTime() + roundScores() * scoreTime() + reserve())) break;
          // A new child every `stepsPerChild` steps (every step: ENAS).
          if (pos.step % (cfg.stepsPerChild ?? 1) === 0 || !pos.child) pos = { ...pos, child: strategy.sample(1)[0] };
          const genotype = pos.child;
          const batch = await stream.next();
          const lr = cfg.lrSchedule === 'cosine' ? cosineLr(pos.step, totalSteps, cfg.lr) : cfg.lr;
          const t = performance.now();
          const r = await supernet.trainStep(genotype!, batch.images, batch.labels, { lr, momentum: 0.9, weightDecay: proxy.weightDecay, clipNorm: 5, step: pos.step });
          time.train += (performance.now() - t) / 1000;
          // The first step of a call also creates the shared weights: not a step's cost.
          budget.record(pos.step === stepsAtStart ? 'first step' : 'step', (performance.now() - t) / 1000);
          if (Number.isFinite(r.loss)) {
            lossSum += r.loss;
            lossCount++;
          }
          pos.step++;
          if (pos.step % cfg.checkpointEvery === 0 && pos.step < end) checkpoint();
        }
        // Out of time: the final phase, after scoring this round's children if none is scored yet.
        pos = pos.step < end && scoredHashes.size > 0 ? { ...pos, phase: 'final' } : { ...pos, phase: 'score' };
        checkpoint();
        continue;
      }

      // Score: this round's children on validation batch `round`.
      const first = pos.round * cfg.childrenPerRound;
      const k = Math.min(cfg.childrenPerRound, config.children - first);
      const val = await valBatch(pos.round);
      const scores: number[] = [];
      let cut = false;
      for (const p of strategy.propose(k)) {
        const genotype = validateGenotype(p.genotype);
        const hash = genotypeHash(genotype);
        const done = byId.get(p.id);
        if (done) {
          // Scored before a kill: the same proposal (the strategy's state was restored), its reward recorded.
          if (done.hash !== hash) throw new ValidationError(`${run.file('history.jsonl')}: child ${p.id} was recorded with another genotype than the resumed strategy proposes`);
          strategy.observe([{ id: p.id, genotype, reward: done.reward }]);
          scores.push(done.reward);
          continue;
        }
        // Out of time: the rest of the round stays unscored (at least one child of the search is scored).
        if (cut || (scoredHashes.size > 0 && !budget.fits(scoreTime() + reserve()))) {
          cut = true;
          continue;
        }
        if (!proposed.has(p.id)) run.appendLine('proposals.jsonl', { id: p.id, genotype });
        const over = overConstraints(config, childJob(config, p.id, genotype, hash), dataset);
        let entry: HistoryEntry;
        if (over?.why) {
          entry = recorder.record(p.id, genotype, hash, { accuracy: 0, curve: [], params: over.params, multAdds: over.multAdds, seconds: 0, diverged: false }, { rejected: over.why, scoredBy: 'shared', round: pos.round });
        } else {
          const t = performance.now();
          const s = await supernet.score(genotype, val.images, val.labels);
          const seconds = (performance.now() - t) / 1000;
          time.score += seconds;
          budget.record('score', seconds);
          const counts = over ?? childCounts({ genotype, proxy }, info);
          entry = recorder.record(p.id, genotype, hash, { accuracy: s.accuracy, curve: [s.accuracy], params: counts.params, multAdds: counts.multAdds, seconds, diverged: !Number.isFinite(s.loss) }, { scoredBy: 'shared', round: pos.round });
        }
        byId.set(p.id, entry);
        if (!entry.rejected && !entry.error) scoredHashes.add(hash);
        scores.push(entry.reward);
      }
      const c = supernet.stats();
      ctx.log?.(
        `round ${pos.round + 1}/${rounds}: ${pos.step} steps, train loss ${(lossSum / Math.max(lossCount, 1)).toFixed(3)}, ` +
          `mean score ${(scores.reduce((a, b) => a + b, 0) / Math.max(scores.length, 1)).toFixed(4)}, best ${Math.max(...scores).toFixed(4)}, ` +
          `plan cache ${(100 * c.hitRate).toFixed(0)}% hits (${c.misses} compiled, ${(c.compileMs / Math.max(c.misses, 1)).toFixed(0)} ms each)`,
      );
      lossSum = 0;
      lossCount = 0;
      const next = pos.round + 1;
      pos = { phase: next >= rounds || cut || pos.step < pos.round * cfg.stepsPerRound + cfg.stepsPerRound ? 'final' : 'train', round: next, step: pos.step };
      checkpoint();
    }

    // Final phase (a): the best distinct children by their round's score, scored again on the final weights.
    const finals = new Map(run.readLines<FinalScore>('final.jsonl').map((f) => [f.id, f]));
    const seen = new Set<string>();
    const candidates = [...recorder.history]
      .filter((h) => h.scoredBy === 'shared' && !h.rejected && !h.error)
      .sort((a, b) => b.reward - a.reward || a.id - b.id)
      .filter((h) => !seen.has(h.hash) && seen.add(h.hash))
      .slice(0, cfg.candidates);
    for (const h of candidates) {
      if (finals.has(h.id)) continue;
      // Out of time: the candidates scored so far are ranked (at least one is).
      if (finals.size > 0 && !budget.fits(finalTime() + retrainReserve())) break;
      const t = performance.now();
      let correct = 0;
      for (let b = 0; b < finalBatches; b++) {
        const val = await valBatch(b);
        correct += (await supernet.score(h.genotype, val.images, val.labels)).correct;
      }
      time.score += (performance.now() - t) / 1000;
      budget.record('final', (performance.now() - t) / 1000);
      const f: FinalScore = { id: h.id, hash: h.hash, genotype: h.genotype, score: correct / (finalBatches * cfg.scoreImages), images: finalBatches * cfg.scoreImages };
      run.appendLine('final.jsonl', f);
      finals.set(h.id, f);
    }
    const scored = candidates.filter((h) => finals.has(h.id));
    ctx.log?.(`final scoring: ${scored.length} of ${candidates.length} candidates on ${finalBatches * cfg.scoreImages} validation images`);

    // Final phase (b): the best of those trained standalone from scratch, executor.concurrency at a
    // time, each only when it is expected to end within the budget (the first always); the reported result.
    const ranked = scored.map((h) => finals.get(h.id)!).sort((a, b) => b.score - a.score || a.id - b.id).slice(0, cfg.retrainTop);
    const retrained = new Map(run.readLines<HistoryEntry>('retrain.jsonl').map((e) => [e.id, e]));
    const t = performance.now();
    const inflight = new Set<Promise<void>>();
    for (const f of ranked.filter((x) => !retrained.has(x.id))) {
      while (inflight.size >= executor.concurrency) await Promise.race(inflight);
      if (retrained.size + inflight.size > 0 && !budget.fits(retrainTime())) break;
      const p: Promise<void> = budget
        .time('retrain', () => executor.submit(childJob(config, f.id, f.genotype, f.hash)))
        .then((result) => {
          const entry = recorder.makeEntry(f.id, f.genotype, f.hash, result, { index: retrained.size, scoredBy: 'standalone', sharedScore: f.score });
          run.appendLine('retrain.jsonl', entry);
          retrained.set(f.id, entry);
          ctx.log?.(`retrained child ${f.id} standalone: accuracy ${result.accuracy.toFixed(4)} (shared score ${f.score.toFixed(4)})${result.error ? ` error: ${result.error}` : ''}`);
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.all(inflight);
    time.retrain += (performance.now() - t) / 1000;
    const best = [...retrained.values()].sort((a, b) => b.reward - a.reward || a.id - b.id);
    if (best[0]) run.writeJson('best.json', { id: best[0].id, reward: best[0].reward, hash: best[0].hash, genotype: best[0].genotype, scoredBy: 'standalone', sharedScore: best[0].sharedScore });
    const summary: SharedSummary = {
      steps: pos.step - stepsAtStart,
      rounds: pos.round,
      cache: supernet.stats(),
      seconds: { train: time.train, score: time.score, retrain: time.retrain },
    };
    writeFileSync(run.file('shared.json'), `${JSON.stringify({ ...summary, totalSteps: pos.step }, null, 2)}\n`);
    return { retrained: best, summary };
  } finally {
    await stream.close();
    supernet.dispose();
  }
}
