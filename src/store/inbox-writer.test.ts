import { describe, expect, it } from 'vitest';
import type { Db } from './db.ts';
import { InboxWriter, type NewInboxEvent } from './inbox.ts';

const event = (key: string): NewInboxEvent => ({
  dedupeKey: key,
  trigger: 'BOOKING_CREATED',
  bookingUid: `uid-${key}`,
  source: 'webhook',
  rawBody: '{}',
  state: 'pending',
  maxAttempts: 8,
  receivedAt: new Date('2026-12-02T09:00:00Z'),
});

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A store whose inserts commit only when the test says so; each insert's dedupe keys are kept. */
function heldStore() {
  const inserts: { keys: string[]; commit: () => void }[] = [];
  const db = {
    query: (_sql: string, params: unknown[]) =>
      new Promise((resolve) => {
        const keys = params[0] as string[];
        const rows = keys.map((k, i) => ({ id: inserts.length * 100 + i + 1, dedupe_key: k }));
        inserts.push({ keys, commit: () => resolve({ rows, rowCount: rows.length }) });
      }),
  } as unknown as Db;
  return { db, inserts };
}

describe('the inbox writer', () => {
  it('sends a webhook read while an insert commits at once on a second insert, and gathers the rest for the first one free', async () => {
    const { db, inserts } = heldStore();
    const writer = new InboxWriter(db);
    const first = writer.add(event('a'));
    await turn();
    expect(inserts.map((i) => i.keys)).toEqual([['a']]);
    // The first insert has not committed: the next webhook does not wait for it.
    const second = writer.add(event('b'));
    await turn();
    expect(inserts.map((i) => i.keys)).toEqual([['a'], ['b']]);
    // Two in flight: the next ones wait, together, for whichever commits first.
    const rest = [writer.add(event('c')), writer.add(event('d'))];
    await turn();
    expect(inserts).toHaveLength(2);
    inserts[1]!.commit();
    expect(await second).toEqual({ id: 101, duplicate: false });
    await turn();
    expect(inserts.map((i) => i.keys)).toEqual([['a'], ['b'], ['c', 'd']]);
    inserts[0]!.commit();
    inserts[2]!.commit();
    expect(await first).toEqual({ id: 1, duplicate: false });
    expect(await Promise.all(rest)).toEqual([
      { id: 201, duplicate: false },
      { id: 202, duplicate: false },
    ]);
  });

  it('counts the webhooks waiting for their insert, stored or refused (what the worker lets go first)', async () => {
    const { db, inserts } = heldStore();
    const writer = new InboxWriter(db);
    const waiting = [writer.add(event('a')), writer.add(event('b')), writer.add(event('c'))];
    expect(writer.waiting).toBe(3);
    await turn();
    inserts[0]!.commit();
    await Promise.all(waiting);
    expect(writer.waiting).toBe(0);
    const refusing = { query: () => Promise.reject(new Error('disk full')) } as unknown as Db;
    const full = new InboxWriter(refusing);
    const refused = full.add(event('d'));
    expect(full.waiting).toBe(1);
    await expect(refused).rejects.toThrow('disk full');
    expect(full.waiting).toBe(0);
  });
});
