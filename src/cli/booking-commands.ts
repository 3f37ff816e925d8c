import { randomUUID } from 'node:crypto';
import { checkout, checkoutSchema } from '../bookings/checkout.ts';
import type { Config } from '../config.ts';
import { UsherError } from '../errors.ts';
import { systemClock } from '../clock.ts';
import { createCalClient } from '../main.ts';
import { print, withStore } from './cli-support.ts';

export interface BookingCommandValues {
  'event-type'?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  'time-zone'?: string | undefined;
  start?: string | undefined;
  name?: string | undefined;
  email?: string | undefined;
  meta?: string[] | undefined;
  'idempotency-key'?: string | undefined;
}

function required(value: string | undefined, flag: string, usage: string): string {
  if (!value) throw new UsherError('BAD_REQUEST', `${flag} is required; usage: ${usage}`);
  return value;
}

/** `usher slots` and `usher book`: through a running Usher's admin API, or straight to Cal.com with the store. */
export async function runBookingCommand(cfg: Config, command: string, values: BookingCommandValues): Promise<boolean> {
  const eventTypeId = Number(values['event-type']);
  if (command === 'slots') {
    const usage = 'usher slots --event-type 7 --from 2026-12-01 --to 2026-12-07';
    if (!Number.isInteger(eventTypeId) || eventTypeId <= 0)
      throw new UsherError('BAD_REQUEST', `--event-type must be an event type id; usage: ${usage}`);
    const from = required(values.from, '--from', usage);
    const to = required(values.to, '--to', usage);
    const timeZone = values['time-zone'] ?? cfg.timeZone;
    const slots = await withStore(
      cfg,
      (db) => createCalClient(cfg, db, systemClock).listSlots({ eventTypeId, start: from, end: to, timeZone }),
      (admin) => admin.call('GET', `/api/slots?${new URLSearchParams({ eventTypeId: String(eventTypeId), from, to, timeZone })}`),
    );
    print(slots);
    return true;
  }
  if (command === 'book') {
    const usage = 'usher book --event-type 7 --start 2026-12-01T10:00:00Z --name "Pat Doe" --email pat@example.com [--meta plan=gold]';
    const metadata: Record<string, string> = {};
    for (const pair of values.meta ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsherError('BAD_REQUEST', `--meta "${pair}": expected key=value`);
      metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const body = checkoutSchema.parse({
      eventTypeId,
      start: required(values.start, '--start', usage),
      attendee: {
        name: required(values.name, '--name', usage),
        email: required(values.email, '--email', usage),
        timeZone: values['time-zone'] ?? cfg.timeZone,
      },
      ...(Object.keys(metadata).length ? { metadata } : {}),
    });
    const key = values['idempotency-key'] ?? `cli-${randomUUID()}`;
    process.stderr.write(`idempotency key: ${key} (repeat with --idempotency-key ${key} to retry safely)\n`);
    const answer = await withStore(
      cfg,
      async (db) => {
        const a = await checkout(db, createCalClient(cfg, db, systemClock), key, body, () => new Date());
        if (a.status >= 400) {
          const e = (a.body as { error?: { code?: string; message?: string } }).error;
          throw new UsherError('CONFLICT', `${e?.code ?? a.status}: ${e?.message ?? 'refused'}`);
        }
        return (a.body as { data: unknown }).data;
      },
      (admin) => admin.call('POST', '/api/bookings', body, { 'idempotency-key': key }),
    );
    print(answer);
    return true;
  }
  return false;
}
