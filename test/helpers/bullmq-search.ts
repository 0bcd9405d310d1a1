/**
 * A search over BullMQ in its own process (for the controller-kill tests):
 *   node --import tsx test/helpers/bullmq-search.ts RUN_DIR CHILDREN REDIS_URL QUEUE [resume|new] [plain|halving]
 */
import { searchCells } from '../../lib/search/search.js';
import { TINY_PROXY } from './tiny-proxy.js';

const [runDir, children, redis, queue, resume, schedule] = process.argv.slice(2);
await searchCells({
  runDir,
  resume: resume === 'resume',
  strategy: 'ppo',
  strategyOptions: { updateEvery: 3 },
  children: Number(children),
  proxy: TINY_PROXY,
  executor: { kind: 'bullmq', redis, queue },
  seed: 5,
  schedule: schedule === 'halving' ? { kind: 'halving', rungs: 2, eta: 3 } : undefined,
});
