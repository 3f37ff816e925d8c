import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeSandbox } from '../src/cli/demo.ts';
import type { Usher } from '../src/main.ts';
import { seedDemoDay, seedDemoHistory } from '../src/sandbox/demo-day.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { accessibilityFaults, launchBrowser, screenshot, signIn, type TestBrowser, truncatedWithoutWayToRead, unfit } from './browser.ts';
import { TEST_ADMIN_TOKEN, TEST_SECRET } from './config.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { startTestUsher, until } from './usher.ts';

const KEY = 'cal_sandbox_demo_key';
const DEMO_CONFIG = readFileSync(new URL('../demo/usher.config.yaml', import.meta.url), 'utf8');

// The demo as a newcomer first sees it: its clinic (demo/), a day around now made by seedDemoDay,
// the board on a tablet and on both wall sizes. The wall cannot scroll: everything must fit.
describe.each(storeKinds)('the demo clinic on the board on %s', (kind) => {
  let browser: TestBrowser;
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;
  beforeAll(async () => {
    browser = await launchBrowser();
    store = await openTestStore(kind);
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000, locationRequestsPerMinute: 1000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    usher = await startTestUsher(store, {
      runWorker: true,
      env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY },
      yaml: `${DEMO_CONFIG}\nreconciler: { intervalSeconds: 0 }\n`.replace(/^reconciler:\n {2}intervalSeconds: 30\n/m, ''),
    });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await sandbox?.close();
    await usher?.close();
    await store?.close();
  });

  it('shows a working day around now — rooms in use, cleaning and next — and fits both wall displays without scrolling', async () => {
    const day = seedDemoDay(sandbox, new Date(), { random: mulberry32(7) });
    expect(day.length).toBeGreaterThan(15);
    await sandbox.sender.settle();
    await until('every demo booking decided', async () => {
      const { rows } = await store.db.query<{ n: number }>(`select count(*)::int as n from room_assignments`);
      return rows[0]!.n === day.length;
    });
    const page = await browser.context.newPage();
    await signIn(page, usher.url, TEST_ADMIN_TOKEN);
    await page.locator('article[data-room]').first().waitFor();
    const states = await page.locator('article[data-room] .state').allTextContents();
    expect(states.some((s) => s.startsWith('In use · until'))).toBe(true);
    expect(await page.locator('article[data-room] .next').count()).toBeGreaterThan(0);
    expect(unfit(await screenshot(page, 'demo-day')), 'the wall needs no scrolling and nothing is wider than the window').toEqual([]);
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    for (const viewport of [
      { width: 1024, height: 768 },
      { width: 1920, height: 1080 },
      { width: 1280, height: 720 },
    ]) {
      await page.setViewportSize(viewport);
      expect(await truncatedWithoutWayToRead(page), `${viewport.width}×${viewport.height}`).toEqual([]);
    }
    await page.close();
  });

  it('the insights page: three weeks of the demo clinic in figures and charts, readable on a tablet and the wall, CSV and a what-if', async () => {
    const history = seedDemoHistory(sandbox, new Date(), { random: mulberry32(11), timeZone: 'Europe/London' });
    expect(history.length).toBeGreaterThan(400);
    await sandbox.sender.settle();
    const pending = async () =>
      (
        await store.db.query<{ state: string; n: number; oldest: Date | null; error: string | null }>(
          `select state, count(*)::int as n, min(run_at) as oldest, max(last_error) as error from inbox_events
            where state in ('pending', 'running') group by state`,
        )
      ).rows;
    await until('every event of the history handled', async () => (await pending()).length === 0, 120_000).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await pending())}`);
    });
    const page = await browser.context.newPage();
    await page.goto(`${usher.url}/board`);
    // Signed in already when the first test ran before this one (one browser, one cookie jar).
    if (await page.getByLabel('Token').count()) await signIn(page, usher.url, TEST_ADMIN_TOKEN);
    await page.getByRole('link', { name: 'Insights' }).click();
    await page.locator('.chart canvas').first().waitFor();
    const tile = async (name: string) => (await page.locator('.tiles li', { hasText: name }).locator('.tile-value').textContent()) ?? '';
    expect(Number.parseInt(await tile('Rooms in use'), 10)).toBeGreaterThan(10);
    expect(Number(await tile('No-shows'))).toBeGreaterThan(0);
    expect(Number(await tile('Appointments'))).toBeGreaterThan(300);
    expect(await page.locator('table.figures tbody tr').count()).toBeGreaterThan(4);
    const layouts = await screenshot(page, 'insights');
    expect(
      layouts.filter((l) => l.scrollWidth > l.viewport.width).map((l) => l.size),
      'nothing wider than the window',
    ).toEqual([]);
    // On the wall, the figures and both charts are on the first screen.
    await page.setViewportSize({ width: 1920, height: 1080 });
    const charts = await page.locator('.charts').boundingBox();
    expect(charts!.y + charts!.height).toBeLessThanOrEqual(1080);
    await page.setViewportSize({ width: 1024, height: 768 });
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);

    const csv = await page.request.get(
      new URL((await page.getByRole('link', { name: /^rooms per/ }).getAttribute('href'))!, usher.url).href,
    );
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-type']).toMatch(/^text\/csv/);
    expect((await csv.text()).split('\r\n').length).toBeGreaterThan(50);

    await page.getByRole('button', { name: 'Last 4 weeks' }).click();
    await page.getByRole('checkbox', { name: '1A' }).check();
    await page.getByRole('checkbox', { name: '1B' }).check();
    await page.getByRole('button', { name: 'Replay the period' }).click();
    const result = page.locator('.what-if-result');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.locator('tr', { hasText: '1A' }).textContent()).toContain('taken away');
    await result.scrollIntoViewIfNeeded();
    await screenshot(page, 'insights-what-if');
    await page.close();
  }, 180_000);
});

/** A small seeded random (the demo day is the same on every run of the test). */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
