/** Headless Chromium for the dashboard tests: Debian's chromium driven by playwright-core. */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './cli.js';

export const CHROMIUM = process.env['HUB_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium; without it the suite is skipped with one line, or fails under CI (which installs it). */
export async function launchBrowser(ctx: Mocha.Context): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} is missing (apt-get install chromium)`;
    if (process.env['CI'] === 'true') throw new Error(`browser tests need Chromium under CI: ${why}`);
    console.log(`    skipped: ${why}`);
    ctx.skip();
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Builds the dashboard if its sources changed (what npm start does); throws with the build's output when it fails. */
export function buildDashboard(): void {
  const r = spawnSync(process.execPath, ['scripts/build-dashboard.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dashboard build failed: ${r.stdout}${r.stderr}`);
}

/** Collects console errors and uncaught page errors (a page must have none). */
export function watchConsole(page: Page, into: string[]): void {
  page.on('console', (m) => {
    if (m.type() === 'error') into.push(`${page.url()}: console.error ${m.text()}`);
  });
  page.on('pageerror', (e) => into.push(`${page.url()}: ${e.message}`));
}
