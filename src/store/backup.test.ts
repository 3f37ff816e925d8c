import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventPipeline, gateDeps } from '../../test/event-pipeline.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { adjustCredits, importMembers, memberAccount } from '../gate/gate-operations.ts';
import { parseMembersCsv } from '../gate/members-csv.ts';
import { sampleBooking } from '../sandbox/payloads.ts';
import { backupStore, restoreStore } from './backup.ts';
import { enqueueJob } from './jobs.ts';

const gated = `
eventTypes:
  "9": { gate: { creditCost: 1 } }
`;

describe.each(storeKinds)('usher backup and restore on %s', (kind) => {
  let from: TestStore;
  let to: TestStore;
  const dir = mkdtempSync(join(tmpdir(), 'usher-backup-'));
  beforeAll(async () => {
    from = await openTestStore(kind);
    to = await openTestStore(kind);
  });
  afterAll(async () => {
    await from.close();
    await to.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const snapshot = async (store: TestStore) => {
    const out: Record<string, unknown[]> = {};
    for (const t of [
      'members',
      'credit_lots',
      'credit_holds',
      'credit_ledger',
      'bookings',
      'inbox_events',
      'decisions',
      'gate_decisions',
      'jobs',
    ]) {
      // board_xact names the transaction that wrote a row on its own server (migration 0017): not data.
      out[t] = (await store.db.query(`select * from ${t} order by 1`)).rows.map(({ board_xact: _, ...row }) => row);
    }
    return out;
  };

  it('gives back the same store: members, credit ledger and balances, bookings, events, decisions, jobs — and ids carry on after them', async () => {
    const now = new Date('2026-12-01T08:00:00Z');
    await importMembers(
      from.db,
      parseMembersCsv('email,name,credits,expires,membership_until\nann@club.example,Ann Member,3,,\n', 'Europe/London'),
      'test',
      now,
    );
    await adjustCredits(from.db, { email: 'ann@club.example', amount: 2, reason: 'top-up', actor: 'test' }, now);
    const cal = new EventPipeline(from.db, gateDeps(gated));
    const booking = sampleBooking({
      eventTypeId: 9,
      requiresConfirmation: true,
      status: 'PENDING',
      attendee: { name: 'Ann Member', email: 'ann@club.example', timeZone: 'Europe/London' },
    });
    await cal.deliver('BOOKING_REQUESTED', booking);
    await cal.deliver('BOOKING_CREATED', { ...booking, status: 'ACCEPTED' });
    const before = await snapshot(from);
    expect((await memberAccount(from.db, 'ann@club.example', now)).balance).toMatchObject({ available: 4 });

    const file = join(dir, 'usher.backup.jsonl.gz');
    const taken = await backupStore(from.url, file, now);
    expect(taken.tables).toMatchObject({ members: 1, credit_ledger: before.credit_ledger!.length, inbox_events: 2 });
    const epoch = async () => (await to.db.query('select generation from room_plan_epoch')).rows[0]!.generation;
    const epochBefore = await epoch();
    const restored = await restoreStore(to.db, file);
    expect(restored.tables).toEqual(taken.tables);
    // Kept room plans and boards read everything again; no restored row claims a writer of this server.
    expect(await epoch()).not.toEqual(epochBefore);
    expect((await to.db.query(`select distinct board_xact::text as x from bookings`)).rows).toEqual([{ x: '0' }]);
    // Byte for byte the same rows; the ledger's trigger did not apply any movement a second time.
    expect(await snapshot(to)).toEqual(before);
    expect((await memberAccount(to.db, 'ann@club.example', now)).balance).toMatchObject({ available: 4 });
    const next = await to.db.transaction((trx) => enqueueJob(trx, { kind: 'cal.confirm', payload: { uid: 'x' }, maxAttempts: 3 }, now));
    expect(next.id).toBeGreaterThan(Math.max(0, ...before.jobs!.map((j) => Number((j as { id: number }).id))));
  });

  it('refuses to restore over a store that holds events unless told to replace it, and refuses what is not a backup', async () => {
    const file = join(dir, 'usher.backup.jsonl.gz');
    await expect(restoreStore(to.db, file)).rejects.toThrow(/already holds \d+ events: .* --replace/);
    await expect(restoreStore(to.db, file, { replace: true })).resolves.toMatchObject({ tables: { members: 1 } });
    const bogus = join(dir, 'not-a-backup.gz');
    writeFileSync(bogus, '');
    await expect(restoreStore(to.db, bogus)).rejects.toThrow();
  });
});
