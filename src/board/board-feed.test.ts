import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Usher } from '../main.ts';
import { TEST_ADMIN_TOKEN } from '../../test/config.ts';
import { openTestStore, serverUrl, type TestStore } from '../../test/stores.ts';
import { startTestUsher, until } from '../../test/usher.ts';

// A lock on a table the view reads holds the first view back while the stream is already open:
// that needs a second connection, so the PostgreSQL server lane.
describe.runIf(serverUrl)('board event stream on PostgreSQL', () => {
  let store: TestStore;
  let usher: Usher;
  beforeEach(async () => {
    store = await openTestStore('postgres');
    usher = await startTestUsher(store);
  });
  afterEach(async () => {
    await usher.close();
    await store.close();
  });

  it('forgets viewers that leave while their first view is still being computed', async () => {
    const signIn = await fetch(`${usher.url}/board/sign-in`, {
      method: 'POST',
      body: new URLSearchParams({ token: TEST_ADMIN_TOKEN }),
      redirect: 'manual',
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const locker = new pg.Client({ connectionString: store.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table rooms in access exclusive mode');
      for (let i = 0; i < 5; i++) {
        const abort = new AbortController();
        const res = await fetch(`${usher.url}/board/events`, { headers: { cookie }, signal: abort.signal });
        expect(res.status).toBe(200);
        abort.abort();
      }
      await new Promise((r) => setTimeout(r, 200)); // the hang-ups reach the server while the view waits
      await locker.query('commit');
    } finally {
      await locker.end();
    }
    const stay = new AbortController();
    const res = await fetch(`${usher.url}/board/events`, { headers: { cookie }, signal: stay.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: view')) text += new TextDecoder().decode((await reader.read()).value);

    await until('only the staying viewer left', async () => usher.board.viewers === 1, 5000);
    stay.abort();
    await until('no viewers', async () => usher.board.viewers === 0, 5000);
  });
});
