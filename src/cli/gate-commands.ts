import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';
import { endOfLocalDate } from '../domain/calendar-period.ts';
import { UsherError } from '../errors.ts';
import type { GateDeps } from '../gate/decide-request.ts';
import { adjustCredits, decideByOperator, heldBookings, importMembers, memberAccount } from '../gate/gate-operations.ts';
import { parseMembersCsv } from '../gate/members-csv.ts';
import { bookingView } from '../http/booking-view.ts';
import { listMembers, upsertMember } from '../store/members.ts';
import { print, withStore } from './cli-support.ts';

export const GATE_HELP = `
  members import <file.csv>            add or update members; each row's credits becomes their balance
                                       (email,name,credits[,expires]; header row optional, see README)
  members list [--search S]            members by e-mail
  members set <email> [--name N] [--active true|false] [--until YYYY-MM-DD]
  credits grant <email> <n> [--reason R] [--expires YYYY-MM-DD]
  credits take <email> <n> [--reason R] take spendable credits back (a correction)
  credits balance <email>              balance, lots and the latest ledger entries
  credits history <email> [--limit N]  the member's ledger, newest first
  gate held                            bookings the gate left for a person
  gate approve <uid> [--no-charge] [--note T]
  gate decline <uid> --reason "text the booker sees"
  booking <uid>                        Usher's view of a booking: gate, credits, calls, attention`;

export interface GateCommandValues {
  search?: string | undefined;
  name?: string | undefined;
  active?: string | undefined;
  until?: string | undefined;
  reason?: string | undefined;
  expires?: string | undefined;
  note?: string | undefined;
  'no-charge'?: boolean | undefined;
  limit?: string | undefined;
}

const ACTOR = 'cli';

function need(value: string | undefined, usage: string): string {
  if (!value) throw new UsherError('BAD_REQUEST', `usage: usher ${usage}`);
  return value;
}

function count(text: string | undefined, usage: string): number {
  const n = Number(need(text, usage));
  if (!Number.isInteger(n) || n <= 0)
    throw new UsherError('BAD_REQUEST', `"${text}" is not a whole number above 0 (usage: usher ${usage})`);
  return n;
}

/** `members`, `credits`, `gate` and `booking`: on the store directly, or through a running server. */
export async function runGateCommand(cfg: Config, command: string, args: string[], v: GateCommandValues): Promise<boolean> {
  const deps: GateDeps = { settings: cfg.gate, timeZone: cfg.timeZone, maxAttempts: cfg.worker.maxAttempts };
  const now = () => new Date();
  const sub = `${command} ${args[0] ?? ''}`.trim();
  const [, a1, a2] = args;
  const enc = encodeURIComponent;
  switch (sub) {
    case 'members import': {
      const file = need(a1, 'members import <file.csv>');
      const text = readFileSync(file, 'utf8');
      const rows = parseMembersCsv(text, cfg.timeZone);
      print(
        await withStore(
          cfg,
          (db) => importMembers(db, rows, ACTOR, now()),
          (admin) => admin.call('POST', '/api/members/import', { csv: text }),
        ),
      );
      return true;
    }
    case 'members list':
      print(
        await withStore(
          cfg,
          (db) => listMembers(db, { ...(v.search ? { search: v.search } : {}), limit: Number(v.limit ?? 100) }),
          (admin) => admin.call('GET', `/api/members?limit=${Number(v.limit ?? 100)}${v.search ? `&search=${enc(v.search)}` : ''}`),
        ),
      );
      return true;
    case 'members set': {
      const email = need(a1, 'members set <email> [--name N] [--active true|false] [--until YYYY-MM-DD]');
      if (v.active !== undefined && !['true', 'false'].includes(v.active))
        throw new UsherError('BAD_REQUEST', '--active takes true or false');
      const body = {
        ...(v.name ? { name: v.name } : {}),
        ...(v.active ? { active: v.active === 'true' } : {}),
        ...(v.until ? { membershipUntil: v.until } : {}),
      };
      print(
        await withStore(
          cfg,
          (db) => db.transaction((trx) => upsertMember(trx, { email, ...body }, now())),
          (admin) => admin.call('PUT', `/api/members/${enc(email)}`, body),
        ),
      );
      return true;
    }
    case 'credits grant':
    case 'credits take': {
      const usage = `${sub} <email> <n> [--reason R]${sub === 'credits grant' ? ' [--expires YYYY-MM-DD]' : ''}`;
      const email = need(a1, usage);
      const amount = count(a2, usage) * (sub === 'credits take' ? -1 : 1);
      const expiresAt = v.expires
        ? /^\d{4}-\d{2}-\d{2}$/.test(v.expires)
          ? endOfLocalDate(v.expires, cfg.timeZone)
          : new Date(v.expires)
        : undefined;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new UsherError('BAD_REQUEST', `--expires "${v.expires}" is not a date`);
      print(
        await withStore(
          cfg,
          (db) =>
            adjustCredits(
              db,
              { email, amount, ...(v.reason ? { reason: v.reason } : {}), ...(expiresAt ? { expiresAt } : {}), actor: ACTOR },
              now(),
            ),
          (admin) =>
            admin.call('POST', `/api/members/${enc(email)}/credits`, {
              amount,
              ...(v.reason ? { reason: v.reason } : {}),
              ...(v.expires ? { expires: v.expires } : {}),
            }),
        ),
      );
      return true;
    }
    case 'credits balance':
    case 'credits history': {
      const email = need(a1, `${sub} <email>`);
      const account = await withStore(
        cfg,
        (db) => memberAccount(db, email, now(), Number(v.limit ?? 20)),
        (admin) => admin.call<Awaited<ReturnType<typeof memberAccount>>>('GET', `/api/members/${enc(email)}`),
      );
      print(
        sub === 'credits balance'
          ? { member: account.member, balance: account.balance, recent: account.history.slice(0, 5) }
          : account.history,
      );
      return true;
    }
    case 'gate held':
      print(
        await withStore(
          cfg,
          (db) => heldBookings(db),
          (admin) => admin.call('GET', '/api/gate/held'),
        ),
      );
      return true;
    case 'gate approve': {
      const uid = need(a1, 'gate approve <uid> [--no-charge] [--note T]');
      const charge = !v['no-charge'];
      print(
        await withStore(
          cfg,
          (db) => decideByOperator(db, deps, { uid, outcome: 'approve', actor: ACTOR, charge, ...(v.note ? { note: v.note } : {}) }, now()),
          (admin) => admin.call('POST', `/api/bookings/${enc(uid)}/approve`, { charge, by: ACTOR, ...(v.note ? { note: v.note } : {}) }),
        ),
      );
      return true;
    }
    case 'gate decline': {
      const usage = 'gate decline <uid> --reason "text the booker sees"';
      const uid = need(a1, usage);
      const reason = need(v.reason, usage);
      print(
        await withStore(
          cfg,
          (db) =>
            decideByOperator(
              db,
              deps,
              { uid, outcome: 'decline', actor: ACTOR, message: reason, ...(v.note ? { note: v.note } : {}) },
              now(),
            ),
          (admin) => admin.call('POST', `/api/bookings/${enc(uid)}/decline`, { reason, by: ACTOR, ...(v.note ? { note: v.note } : {}) }),
        ),
      );
      return true;
    }
    default:
      if (command === 'booking') {
        const uid = need(args[0], 'booking <uid>');
        const gated = new Set(Object.keys(cfg.gate.policies));
        const view = await withStore(
          cfg,
          async (db) => {
            const found = await bookingView(db, uid, gated);
            if (!found) throw new UsherError('NOT_FOUND', `Usher knows no booking ${uid}`);
            return found;
          },
          (admin) => admin.call('GET', `/api/bookings/${enc(uid)}`),
        );
        print(view);
        return true;
      }
      if (['members', 'credits', 'gate'].includes(command))
        throw new UsherError('BAD_REQUEST', `unknown command "usher ${sub}" (usher help lists them)`);
      return false;
  }
}
