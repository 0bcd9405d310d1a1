/**
 * A search over BullMQ in its own process (for the controller-kill test):
 *   node --import tsx test/helpers/bullmq-search.ts RUN_DIR CHILDREN REDIS_URL QUEUE [resume]
 */
import { searchCells } from '../../lib/search/search.js';
import { TINY_PROXY } from './tiny-proxy.js';

const [runDir, children, redis, queue, resume] = process.argv.slice(2);
await searchCells({
  runDir,
  resume: resume === 'resume',
  strategy: 'ppo',
  strategyOptions: { updateEvery: 3 },
  children: Number(children),
  proxy: TINY_PROXY,
  executor: { kind: 'bullmq', redis, queue },
  seed: 5,
});
