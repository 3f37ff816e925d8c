import { request } from 'undici';
import { signBody } from '../src/cal/verify-signature.ts';
import type { Env } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startUsher, type Usher } from '../src/main.ts';
import type { Clock } from '../src/clock.ts';
import { TEST_ADMIN_TOKEN, TEST_SECRET, testConfig } from './config.ts';
import { afterAll, beforeAll } from 'vitest';
import { openTestStore, type TestStore } from './stores.ts';

/** Usher on a real HTTP port over a test store; the worker is driven by the test (drain()). */
export function startTestUsher(
  store: TestStore,
  options: { clock?: Clock; env?: Env; yaml?: string; runWorker?: boolean } = {},
): Promise<Usher> {
  return startUsher(testConfig(options.env, options.yaml), {
    db: store.db,
    log: createLogger('silent'),
    runWorker: options.runWorker ?? false,
    validateResponses: true,
    ...(options.clock ? { clock: options.clock } : {}),
  });
}

export async function postWebhook(baseUrl: string, body: string | Buffer, signature: string | null = signBody(body, TEST_SECRET)) {
  const response = await request(`${baseUrl}/webhooks/cal`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-cal-signature-256': signature }) },
    body,
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
}

export async function adminGet(baseUrl: string, path: string, token = TEST_ADMIN_TOKEN) {
  const response = await request(baseUrl + path, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
}

/**
 * A store of its own and an Usher over it for every test of a describe block, closed after them:
 * `const t = usherPerFile(kind)`, then `t.usher.url`, `t.store.db`.
 */
export function usherPerFile(
  kind: string,
  options: Parameters<typeof startTestUsher>[1] = {},
): { readonly store: TestStore; readonly usher: Usher } {
  const ctx = {} as { store: TestStore; usher: Usher };
  beforeAll(async () => {
    ctx.store = await openTestStore(kind);
    ctx.usher = await startTestUsher(ctx.store, options);
  });
  afterAll(async () => {
    await ctx.usher?.close();
    await ctx.store?.close();
  });
  return ctx;
}

/** Polls until `probe` gives something truthy (for effects of a running worker and a real Cal.com sandbox). */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Tomorrow at hh:mm UTC (London in winter): always in the future for the sandbox's real clock. */
export function tomorrowAt(hour: number, minute = 0): Date {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  return new Date(d.getTime() + 86_400_000 + (hour * 60 + minute) * 60_000);
}

/** A booking as the sandbox Cal.com holds it (its public GET). */
export async function inCal(sandboxUrl: string, uid: string): Promise<{ location?: string; status: string; rejectionReason?: string }> {
  const res = await request(`${sandboxUrl}/v2/bookings/${uid}`, { headers: { 'cal-api-version': '2024-08-13' } });
  return ((await res.body.json()) as { data: { location?: string; status: string } }).data;
}
