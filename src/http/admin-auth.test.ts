import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from '../../test/config.ts';
import { storeKinds } from '../../test/stores.ts';
import { usherPerFile } from '../../test/usher.ts';

// Behind the reverse proxy the README recommends (on the same machine: loopback, trusted by
// default), each client is known by the address the proxy reports in X-Forwarded-For.
const from = (client: string) => ({ 'x-forwarded-for': client });

async function signIn(url: string, token: string, client: string) {
  const res = await request(`${url}/board/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...from(client) },
    body: new URLSearchParams({ token }).toString(),
  });
  await res.body.text();
  return res.statusCode;
}

async function admin(url: string, token: string, client: string) {
  const res = await request(`${url}/api/events`, { headers: { authorization: `Bearer ${token}`, ...from(client) } });
  await res.body.text();
  return { status: res.statusCode, cacheControl: res.headers['cache-control'], retryAfter: res.headers['retry-after'] };
}

describe.each(storeKinds)('failed authentications behind a reverse proxy on %s', (kind) => {
  const t = usherPerFile(kind);

  it('stops a guesser at the board sign-in after ten wrong tokens, and nobody else', async () => {
    for (let i = 0; i < 10; i++) expect(await signIn(t.usher.url, `wrong-${i}`, '203.0.113.5')).toBe(401);
    expect(await signIn(t.usher.url, TEST_ADMIN_TOKEN, '203.0.113.5')).toBe(429);
    // Everyone else behind the same proxy signs in as before: no lock-out of the whole front desk.
    expect(await signIn(t.usher.url, TEST_ADMIN_TOKEN, '203.0.113.9')).toBe(303);
  });

  it('stops a guesser at the admin API after ten wrong tokens, even with the right one, and nobody else', async () => {
    for (let i = 0; i < 10; i++) expect((await admin(t.usher.url, `wrong-token-${i}-0123456789`, '198.51.100.7')).status).toBe(401);
    const stopped = await admin(t.usher.url, TEST_ADMIN_TOKEN, '198.51.100.7');
    expect(stopped.status).toBe(429);
    expect(Number(stopped.retryAfter)).toBeGreaterThan(0);
    expect((await admin(t.usher.url, TEST_ADMIN_TOKEN, '198.51.100.8')).status).toBe(200);
  });

  it('marks every admin API answer, which can carry names and e-mails, as not to be stored by caches', async () => {
    expect(await admin(t.usher.url, TEST_ADMIN_TOKEN, '192.0.2.1')).toMatchObject({ status: 200, cacheControl: 'no-store' });
    expect(await admin(t.usher.url, 'not-the-token-0123456789', '192.0.2.2')).toMatchObject({ status: 401, cacheControl: 'no-store' });
  });
});
