/**
 * Runs a small weight-sharing search in its own process (for the kill-and-resume test):
 *   node --import tsx test/helpers/shared-search-child.ts RUN_DIR [resume|new]
 */
import { searchCells } from '../../lib/search/search.js';
import { TINY_PROXY, TINY_SHARED } from './tiny-proxy.js';

const [runDir, resume] = process.argv.slice(2);
await searchCells({
  runDir,
  resume: resume === 'resume',
  mode: 'shared',
  strategy: 'ppo',
  strategyOptions: { updateEvery: 3 },
  children: 12,
  proxy: TINY_PROXY,
  shared: { ...TINY_SHARED, stepsPerChild: 2 }, // checkpoints (every 3 steps) fall inside a child's steps too
  executor: { kind: 'local', isolation: 'inline' },
  seed: 7,
});
