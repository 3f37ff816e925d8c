import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../src/store/jobs.ts';
import { calJobKinds } from '../src/jobs/cal-jobs.ts';
import { FakeCal } from './fake-cal.ts';
import { spawnServe } from './serve-process.ts';
import { openTestStore, serverUrl, type TestStore } from './stores.ts';

/** How many confirmations a process found its budget spent for (usher_jobs_processed_total, state "waiting"). */
async function waitingCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('usher_jobs_processed_total{') && l.includes('kind="cal.confirm"') && l.includes('state="waiting"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

// Two processes can share one store only on a PostgreSQL server.
describe.runIf(Boolean(serverUrl))('the Cal.com rate budget with two usher processes on one PostgreSQL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-budget-'));
  let store: TestStore;
  let cal: FakeCal;
  afterAll(async () => {
    await cal?.stop();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never lets more calls reach Cal.com in any window than the budget, together, and does not claim what waits for it job by job', async () => {
    store = await openTestStore('postgres');
    cal = await new FakeCal().start();
    const configPath = join(dir, 'usher.config.yaml');
    writeFileSync(configPath, 'cal: { rateLimit: { requestsPerWindow: 4, windowSeconds: 2 } }\nworker: { pollIntervalMs: 20 }\n');
    const env = { USHER_CONFIG: configPath, DATABASE_URL: store.url!, CAL_API_URL: cal.url, CAL_API_KEY: 'cal_test_shared' };
    const now = new Date();
    await store.db.transaction(async (trx) => {
      for (let i = 0; i < 16; i++) await enqueueJob(trx, { kind: calJobKinds.confirm, payload: { uid: `b${i}` }, maxAttempts: 5 }, now);
    });
    const [a, b] = await Promise.all([spawnServe(env), spawnServe(env)]);
    let refusals = 0;
    try {
      // Inside the test's own timeout, so that a failure says where the jobs stand.
      const deadline = Date.now() + 45_000;
      for (;;) {
        const left = await store.db.query<{ n: string }>(`select count(*) as n from jobs where state <> 'done'`);
        if (Number(left.rows[0]!.n) === 0) break;
        if (Date.now() > deadline) {
          const jobs = await store.db.query(`select id, state, attempts, run_at, last_error from jobs order by id`);
          throw new Error(`jobs not done:\n${JSON.stringify(jobs.rows)}\n${a.output()}\n${b.output()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      refusals = (await Promise.all([a, b].map((p) => waitingCount(p.url)))).reduce((x, y) => x + y, 0);
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      await Promise.all([a.exited, b.exited]);
    }
    const times = cal.requests.map((r) => r.at).sort((x, y) => x - y);
    expect(times).toHaveLength(16);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 2000).length).toBeLessThanOrEqual(4);
    // 16 calls at 4 per 2 s cannot finish in under three windows.
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(6000);
    // While the budget is spent, the confirmations waiting are not claimed and put back one by one
    // (worker.ts, sharedBudgets, as main.ts wires it): a process is refused at most once each
    // time a slot comes free, and 16 calls free 16 slots. Claimed one by one: 70 refusals here.
    expect(refusals).toBeLessThanOrEqual(2 * 16);
  });
});
