/**
 * Dashboard figures on a hub process on PostgreSQL with `--n` tasks (100,000 by default):
 *
 * 1. Task list response time: GET /api/tasks as the dashboard's task page asks it (first
 *    page, a status, a title search, a tenant, a key, a sort, a deep page) and the
 *    dead-letter groups; `--runs` times each, median and worst.
 * 2. In headless Chromium (when /usr/bin/chromium exists): the task page's time to its
 *    rows and the overview's time to its numbers, from navigation start.
 * 3. The first load: index.html and what it links, gzip bytes (dist/dashboard/build.json).
 * 4. The events tail under bursts (before the fill, with an echo agent): tasks submitted
 *    at `--burst` rates (tasks/s, 4 s each; about 4 events a task) to the events page;
 *    the events/s it received, its frame gap p99 and worst.
 *
 * The tasks are submitted pending (no agents), then some are marked ended in SQL so that
 * the list has every status (set-up only; the hub's lifecycle does not run for them).
 *
 *   npx tsx bench/dashboard.ts [--n 100000] [--runs 15]
 */
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { chromium, type Page } from 'playwright-core';
import { arg, emit } from './lib/cli.js';
import { benchDatabase, median } from './lib/pg.js';
import { startHubProcess, type HubProcess } from './lib/hub-process.js';

const n = Number(arg('n', '100000'));
const runs = Number(arg('runs', '15'));
const CHROMIUM = '/usr/bin/chromium';
const BURSTS = arg('burst', '300,600,1200').split(',').map(Number);

async function get(hub: HubProcess, url: string): Promise<number> {
  const started = performance.now();
  const r = await fetch(`http://127.0.0.1:${hub.httpPort}${url}`);
  await r.arrayBuffer();
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return performance.now() - started;
}

async function fill(hub: HubProcess, url: string): Promise<void> {
  const tenants = ['acme', 'globex', 'initech', 'umbrella'];
  const words = ['summarise', 'translate', 'classify', 'extract', 'review'];
  for (let i = 0; i < n; i += 1000) {
    const tasks = Array.from({ length: Math.min(1000, n - i) }, (_, j) => {
      const k = i + j;
      return {
        title: `${words[k % 5]} document ${k}`,
        priority: ['low', 'medium', 'high', 'critical'][k % 4],
        fairness_key: tenants[k % 4],
        ...(k % 3 === 0 ? { concurrency_key: `llm:${k % 2 === 0 ? 'openai' : 'anthropic'}` } : {}),
        payload: { k },
      };
    });
    const r = await fetch(`http://127.0.0.1:${hub.httpPort}/api/tasks/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks }),
    });
    if (r.status !== 201) throw new Error(`bulk: ${r.status} ${await r.text()}`);
  }
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(`UPDATE tasks SET status = 'completed' WHERE substr(id::text, 1, 1) < 'b'`);
  await db.query(
    `UPDATE tasks SET status = CASE WHEN substr(id::text, 1, 1) = 'd' THEN 'dead' ELSE 'failed' END,
            error = jsonb_build_object('code', CASE WHEN substr(id::text, 2, 1) < '8' THEN 'RATE_LIMITED' ELSE 'TASK_TIMEOUT' END, 'message', 'bench', 'retryable', false)
     WHERE substr(id::text, 1, 1) IN ('b', 'c', 'd')`,
  );
  await db.query('ANALYZE tasks');
  await db.end();
}

const QUERIES: Record<string, string> = {
  first_page: '/api/tasks?limit=50&order=desc',
  status_completed: '/api/tasks?status=completed&limit=50&order=desc',
  title_search: '/api/tasks?q=translate%20document%209&limit=50&order=desc',
  tenant: '/api/tasks?tenant=globex&limit=50&order=desc',
  concurrency_key: '/api/tasks?concurrency_key=llm:openai&limit=50&order=desc',
  sort_priority: '/api/tasks?sort=priority&order=desc&limit=50',
  deep_page: `/api/tasks?limit=50&offset=${Math.floor(n / 2)}&order=desc`,
  dead_letter_groups: '/api/tasks/errors',
};

async function apiTimes(hub: HubProcess): Promise<Record<string, { median_ms: number; max_ms: number }>> {
  const out: Record<string, { median_ms: number; max_ms: number }> = {};
  for (const [name, url] of Object.entries(QUERIES)) {
    await get(hub, url); // warm
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) ms.push(await get(hub, url));
    out[name] = { median_ms: Math.round(median(ms) * 10) / 10, max_ms: Math.round(Math.max(...ms) * 10) / 10 };
  }
  return out;
}

async function browserTimes(hub: HubProcess): Promise<Record<string, number> | string> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} missing`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const base = `http://127.0.0.1:${hub.httpPort}/dashboard`;
  const time = async (path: string, selector: string): Promise<number> => {
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      await page.goto(`${base}${path}`);
      await page.waitForSelector(selector);
      ms.push(await page.evaluate(() => performance.now()));
    }
    return Math.round(median(ms));
  };
  const result = {
    tasks_page_rows_ms: await time('/tasks', 'tr[data-task]'),
    overview_numbers_ms: await time('', '[data-testid=stat-completed]'),
  };
  await browser.close();
  return result;
}

async function post(hub: HubProcess, url: string, body: unknown): Promise<Record<string, any>> {
  const r = await fetch(`http://127.0.0.1:${hub.httpPort}${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { data: Record<string, any> }).data;
}

/** Submits `rate` tasks a second for 4 s in bulks every 100 ms; the page counts what it received. */
async function burst(hub: HubProcess, page: Page, rate: number): Promise<Record<string, number>> {
  const received = async (): Promise<number> =>
    Number((await page.getByTestId('received').textContent())!.replace(/\D/g, ''));
  await page.evaluate(`(() => {
    window.__gaps = [];
    window.__stop = false;
    let last = performance.now();
    const loop = () => { const now = performance.now(); window.__gaps.push(now - last); last = now; if (!window.__stop) requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  })()`);
  const start = await received();
  const t0 = Date.now();
  const sent: Array<Promise<unknown>> = [];
  for (let i = 0; i < 40; i++) {
    const tasks = Array.from({ length: Math.round(rate / 10) }, (_, j) => ({ title: `burst ${i}.${j}` }));
    sent.push(post(hub, '/api/tasks/bulk', { tasks }));
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i + 1) * 100 - Date.now())));
  }
  await Promise.all(sent);
  await page.waitForTimeout(300);
  const seconds = (Date.now() - t0) / 1000;
  const events = (await received()) - start;
  const gaps = await page.evaluate<number[]>('(() => { window.__stop = true; return window.__gaps; })()');
  const sorted = [...gaps].sort((a, b) => a - b);
  return {
    tasks_per_s: rate,
    events_per_s: Math.round(events / seconds),
    frame_gap_p99_ms: Math.round(sorted[Math.floor(sorted.length * 0.99)] ?? NaN),
    frame_gap_worst_ms: Math.round(sorted[sorted.length - 1] ?? NaN),
  };
}

async function tail(hub: HubProcess): Promise<Array<Record<string, number>> | string> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} missing`;
  const agent = await post(hub, '/api/agents', { name: 'bench-echo', executor: 'echo', max_concurrency: 64 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`http://127.0.0.1:${hub.httpPort}/dashboard/events`);
  await page.getByTestId('received').waitFor();
  const out = [];
  for (const rate of BURSTS) out.push(await burst(hub, page, rate));
  await browser.close();
  await fetch(`http://127.0.0.1:${hub.httpPort}/api/agents/${String(agent['id'])}`, { method: 'DELETE' });
  return out;
}

const db = await benchDatabase('hive_bench_dash');
const hub = await startHubProcess({
  HIVE_DATABASE_URL: db.url,
  HIVE_SERVER_HOST: '127.0.0.1',
  HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
  HIVE_TASKS_MAX_PENDING: String(n * 2),
});
try {
  const events = await tail(hub);
  const t0 = Date.now();
  await fill(hub, db.url);
  const build = JSON.parse(readFileSync(new URL('../dist/dashboard/build.json', import.meta.url), 'utf8')) as {
    first_load_gzip_bytes: number;
  };
  emit('dashboard', {
    tasks: n,
    fill_seconds: Math.round((Date.now() - t0) / 100) / 10,
    first_load_gzip_bytes: build.first_load_gzip_bytes,
    api: await apiTimes(hub),
    browser: await browserTimes(hub),
    events_tail: events,
  });
} finally {
  await hub.stop();
  await db.drop();
}
