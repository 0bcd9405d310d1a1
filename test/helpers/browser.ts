/**
 * The dashboard page in a real browser for the tests: the page bundled from the sources (as
 * `npm run build` does), Debian's Chromium launched headless by playwright-core, and a page that
 * records console errors and warnings, page errors and failed requests. Callers check
 * {@link needChromium} first (test/helpers/optional.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { chromiumPath } from './optional.js';

/** The flags the machine notes ask for: no sandbox (root), no GPU, nothing fetched from the network. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Bundles the page into `dir` (scripts/build-dashboard.mjs --out dir); throws with esbuild's message. */
export function bundlePage(dir: string): string {
  const b = spawnSync(process.execPath, ['scripts/build-dashboard.mjs', '--out', dir], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`bundling the page failed: ${b.stderr}`);
  return dir;
}

/** A headless Chromium with one 1400×1000 page, and the problems that page reported. */
export interface BrowserPage {
  browser: Browser;
  page: Page;
  /** `console error: ...`, `page error: ...`, `request failed: ...` (the event stream excepted). */
  problems: string[];
}

/**
 * Launches Chromium (the one {@link chromiumPath} finds) with a page.
 *
 * @example
 * const { browser, page, problems } = await openPage();
 * await page.goto(dash.url);
 * expect(problems).toEqual([]);
 * await browser.close();
 */
export async function openPage(): Promise<BrowserPage> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (!r.url().endsWith('/api/events')) problems.push(`request failed: ${r.url()}`);
  });
  return { browser, page, problems };
}

/** Where screenshots go: NASNET_DASHBOARD_SHOTS, else `<root>/screenshots` (created; never the tree). */
export function screenshotDir(root: string): string {
  const dir = process.env.NASNET_DASHBOARD_SHOTS ?? join(root, 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
