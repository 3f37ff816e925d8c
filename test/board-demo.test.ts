import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeSandbox } from '../src/cli/demo.ts';
import type { Usher } from '../src/main.ts';
import { seedDemoDay } from '../src/sandbox/demo-day.ts';
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
