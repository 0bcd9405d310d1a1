/**
 * The dashboard page in a real browser: Debian's Chromium, headless, driven by playwright-core. The
 * page is bundled from the sources first (scripts/build-dashboard.mjs, as `npm run build` does), so
 * this tests what a user gets. Skipped with the reason where no Chromium is installed; CI installs it.
 * Screenshots go to NASNET_DASHBOARD_SHOTS or a temporary folder (printed), never into the tree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../lib/dashboard/server.js';
import { bundlePage, openPage, screenshotDir } from './helpers/browser.js';
import { needChromium } from './helpers/optional.js';
import { type RunFixture, writeRunFixture } from './helpers/run-fixture.js';

const need = needChromium();

describe.skipIf(need.skip)(need.label('dashboard page in Chromium'), () => {
  let root: string;
  let shots: string;
  let browser: Browser;
  let dash: Dashboard;
  let page: Page;
  let ppo: RunFixture;
  let evo: RunFixture;
  let problems: string[] = [];

  beforeAll(async () => {
    need.require();
    root = mkdtempSync(join(tmpdir(), 'nasnet-dashboard-browser-'));
    shots = screenshotDir(root);
    const assets = bundlePage(join(root, 'assets'));
    ppo = writeRunFixture(join(root, 'runs', 'ppo-seed1'), { children: 12, total: 20, strategy: 'ppo', seed: 4, start: Date.now() - 20 * 60_000 });
    evo = writeRunFixture(join(root, 'runs', 'evolution-seed1'), { children: 8, strategy: 'evolution', seed: 5, start: Date.now() - 30 * 60_000 });
    // A failed child and one with a field this version does not know.
    evo.append({ reward: 0, accuracy: 0, curve: [], params: 0, multAdds: 0, seconds: 0, error: 'worker process 4242 exited (SIGKILL) while training child 8' });
    evo.append({ rung: 2 } as never);
    dash = await startDashboard({ runs: [join(root, 'runs')], port: 0, assetsDir: assets, pollMs: 500 });
    ({ browser, page, problems } = await openPage());
  });

  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    if (shots) process.stderr.write(`dashboard screenshots: ${shots}\n`);
    if (root && !process.env.NASNET_DASHBOARD_SHOTS) rmSync(root, { recursive: true, force: true });
  });

  const dots = (plot: string) => page.locator(`[data-plot="${plot}"] g[aria-label="dot"] circle`);
  const total = () => ppo.entries.length + evo.entries.length;

  it('loads with no console errors and one dot per child in each reward plot', async () => {
    await page.goto(dash.url);
    await page.locator('[data-connection="live"]').waitFor();
    await expect.poll(() => dots('reward-index').count()).toBe(total());
    expect(await dots('reward-time').count()).toBe(total());
    // The failed child has no cost: the Pareto views show the others.
    expect(await dots('pareto-params').count()).toBe(total() - 1);
    expect(await page.locator('.children-table tbody tr').count()).toBe(total());
    expect(await page.locator('[data-progress="ppo-seed1"]').textContent()).toMatch(/^12 \/ 20 children · best 0\.\d{4} \(child \d+\) · 60 children\/h/);
    // Two runs overlaid: a legend with both.
    expect(await page.locator('[data-plot="reward-index"]').textContent()).toContain('evolution-seed1 · evolution');
    // The unknown numeric field became a column.
    expect(await page.locator('.children-table th[data-key="rung"]').count()).toBe(1);
    await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows a child appended to history.jsonl within two seconds', async () => {
    const before = await dots('reward-index').count();
    const t0 = Date.now();
    const e = ppo.append({ reward: 0.97, accuracy: 0.97 });
    await page.locator(`.children-table tr[data-run="ppo-seed1"][data-child="${e.id}"]`).waitFor({ timeout: 2000 });
    await expect.poll(() => dots('reward-index').count(), { timeout: 2000 }).toBe(before + 1);
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(2000);
    expect(await page.locator('[data-progress="ppo-seed1"]').textContent()).toContain(`13 / 20 children · best 0.9700 (child ${e.id})`);
    // The new best sorts first (the table starts sorted by reward, highest first).
    expect(await page.locator('.children-table tbody tr').first().getAttribute('data-child')).toBe(String(e.id));
  });

  it('sorts by a column (again to reverse) and filters', async () => {
    const params = async () =>
      (await page.locator('.children-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.querySelectorAll('td')[4].textContent ?? ''))).map((t) => Number(t.replace(/,/g, '')));
    await page.locator('th[data-key="params"] button').click();
    expect(await page.locator('th[data-key="params"]').getAttribute('aria-sort')).toBe('descending');
    const desc = (await params()).filter(Number.isFinite);
    expect(desc).toEqual([...desc].sort((x, y) => y - x));
    await page.locator('th[data-key="params"] button').click();
    expect(await page.locator('th[data-key="params"]').getAttribute('aria-sort')).toBe('ascending');
    const asc = (await params()).filter(Number.isFinite);
    expect(asc).toEqual([...asc].sort((x, y) => x - y));
    expect(asc.length).toBe(total());

    await page.locator('input.filter').fill('status:error');
    await expect.poll(() => page.locator('.children-table tbody tr').count()).toBe(1);
    expect(await page.locator('.children-table tbody tr').first().textContent()).toContain('worker process 4242 exited (SIGKILL)');
    await page.locator('input.filter').fill('reward>0.7 run:ppo');
    const want = ppo.entries.filter((x) => x.reward > 0.7).length;
    await expect.poll(() => page.locator('.children-table tbody tr').count()).toBe(want);
    await page.locator('input.filter').fill('');
  });

  it("opens a child's page: numbers, both cell drawings, curve, genotype and commands", async () => {
    const child = ppo.entries[3];
    await page.locator(`.children-table tr[data-run="ppo-seed1"][data-child="3"] td a`).click();
    expect(new URL(page.url()).hash).toBe('#/child/ppo-seed1/3');
    await page.locator('main.child-page[data-child="3"]').waitFor();
    const facts = await page.locator('table.facts').textContent();
    expect(facts).toContain(child.reward.toFixed(4));
    expect(facts).toContain(child.params.toLocaleString('en-US'));
    const imgs = page.locator('.cells img');
    expect(await imgs.count()).toBe(2);
    await expect.poll(() => imgs.evaluateAll((els) => els.map((e) => (e as unknown as { naturalWidth: number }).naturalWidth > 100))).toEqual([true, true]);
    expect(await page.locator('[data-plot="curve"] g[aria-label="dot"] circle').count()).toBe(child.curve.length);
    expect(JSON.parse((await page.locator('pre.genotype').textContent()) ?? '')).toEqual(child.genotype);
    const commands = await page.locator('.commands code').allTextContents();
    expect(commands.some((c) => c.startsWith('nasnet train --genotype ') && c.endsWith('--dataset cifar10 --n 6 --penultimate 768 --epochs 600 --cutout 16'))).toBe(true);
    await page.screenshot({ path: join(shots, 'child.png'), fullPage: true });
    // Back to the overview through the link; a click on a dot opens its child too.
    await page.locator('a[href="#/"]').first().click();
    // (child 11 of ppo-seed1: no other run has an 11th child, so no dot lies on it)
    await page.locator(`[data-plot="reward-index"] a[*|href="#/child/ppo-seed1/11"]`).click(); // Plot links with xlink:href
    await page.locator('main.child-page[data-child="11"]').waitFor();
    expect(problems).toEqual([]);
  });

  it('refuses a path traversal from the page', async () => {
    const statuses = await page.evaluate(async () => {
      const paths = ['api/runs/..%2f..%2fetc/files/passwd', 'api/runs/ppo-seed1/files/..%2f..%2f..%2fetc%2fpasswd', 'assets/..%2f..%2fpackage.json', 'api/runs/ppo-seed1/files/strategy.json'];
      return Promise.all(paths.map(async (p) => [(await fetch(p)).status, await (await fetch(p)).text()] as const));
    });
    for (const [status, body] of statuses) {
      expect(status).toBe(404);
      expect(body).not.toContain('root:');
    }
    problems.length = 0; // the refused fetches log "404" to the console, as they should
  });

  it('adds a run started later, and draws a run of one child with readable axes', async () => {
    await page.goto(`${dash.url}#/`);
    await page.locator('[data-connection="live"]').waitFor();
    const one = writeRunFixture(join(root, 'runs', 'one-child'), { children: 1, strategy: 'random', seed: 6 });
    await page.locator('.runs .run[data-run="one-child"]').waitFor({ timeout: 5000 });
    for (const id of ['ppo-seed1', 'evolution-seed1']) await page.getByLabel(`show run ${id}`).uncheck();
    await expect.poll(() => dots('reward-index').count()).toBe(1);
    expect(await page.locator('.children-table tbody tr').count()).toBe(1);
    // One child is a zero-width domain: ticks around it, not one tick labelled `0.608000` (cut by the margin).
    for (const plot of ['reward-index', 'reward-time', 'pareto-params', 'pareto-mult-adds']) {
      expect(await dots(plot).count(), plot).toBe(1);
      const ys = await page.locator(`[data-plot="${plot}"] g[aria-label="y-axis tick label"] text`).allTextContents();
      expect(ys.length, `${plot}: ${ys}`).toBeGreaterThanOrEqual(2);
      for (const y of ys) expect(y, plot).toMatch(/^0\.\d{1,3}$/);
    }
    const reward = one.entries[0].reward;
    const ys = (await page.locator('[data-plot="reward-index"] g[aria-label="y-axis tick label"] text').allTextContents()).map(Number);
    expect(Math.min(...ys)).toBeLessThan(reward);
    expect(Math.max(...ys)).toBeGreaterThan(reward);
    await page.screenshot({ path: join(shots, 'one-child.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
