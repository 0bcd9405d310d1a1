/**
 * Runs a small real search in its own process (for the kill-and-resume tests):
 *   node --import tsx test/helpers/search-child.ts RUN_DIR CHILDREN [resume|new] [plain|halving]
 */
import { searchCells } from '../../lib/search/search.js';
import { TINY_PROXY } from './tiny-proxy.js';

const [runDir, children, resume, schedule] = process.argv.slice(2);
await searchCells({
  runDir,
  resume: resume === 'resume',
  strategy: 'ppo',
  strategyOptions: { updateEvery: 3 },
  children: Number(children),
  proxy: TINY_PROXY,
  executor: { kind: 'local', isolation: 'inline' },
  seed: 5,
  schedule: schedule === 'halving' ? { kind: 'halving', rungs: 2, eta: 3 } : undefined,
});
