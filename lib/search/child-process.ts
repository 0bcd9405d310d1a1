/**
 * Entry point of a local worker process: receives child jobs over IPC, trains them, sends results.
 * Started by the local executor with OMP_NUM_THREADS set to its share of the cores.
 */
import { trainChild } from './child.js';
import type { ChildJob } from './types.js';

interface JobMessage {
  type: 'job';
  job: ChildJob;
}

process.on('message', (msg: JobMessage) => {
  if (msg?.type !== 'job') return;
  void trainChild(msg.job).then((result) => {
    process.send?.({ type: 'result', id: msg.job.id, result });
  });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
