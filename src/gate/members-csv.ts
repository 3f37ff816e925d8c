import { parse } from 'csv-parse/sync';
import { endOfLocalDate } from '../domain/calendar-period.ts';
import { UsherError } from '../errors.ts';

export interface MemberRow {
  line: number;
  email: string;
  name?: string;
  /** The spendable balance the member should have after the import. */
  credits: number;
  creditsExpireAt?: Date;
  active?: boolean;
  membershipUntil?: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const known = ['email', 'name', 'credits', 'expires', 'active', 'membership_until'];

function parseExpiry(value: string, timeZone: string): Date | undefined {
  if (DATE.test(value)) return endOfLocalDate(value, timeZone);
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/**
 * Reads `email,name,credits[,expires]` (a header row is optional; with one, the extra columns
 * `active` and `membership_until` are read too). Every bad row is listed at once and nothing is
 * imported unless all rows are good.
 */
export function parseMembersCsv(text: string, timeZone: string): MemberRow[] {
  let records: string[][];
  try {
    records = parse(text, { trim: true, skip_empty_lines: true, relax_column_count: true, bom: true, comment: '#' });
  } catch (error) {
    throw new UsherError('BAD_REQUEST', `members CSV is not valid CSV: ${(error as Error).message}`);
  }
  let columns = ['email', 'name', 'credits', 'expires'];
  let first = 1;
  if (records[0]?.[0]?.toLowerCase() === 'email') {
    columns = records[0].map((c) => c.toLowerCase().replace(/[\s-]/g, '_'));
    const unknown = columns.filter((c) => !known.includes(c));
    if (unknown.length)
      throw new UsherError('BAD_REQUEST', `members CSV: unknown column(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
    records = records.slice(1);
    first = 2;
  }
  const faults: string[] = [];
  const rows: MemberRow[] = [];
  const seen = new Map<string, number>();
  records.forEach((record, i) => {
    const line = first + i;
    const cell = (name: string) => {
      const at = columns.indexOf(name);
      const v = at >= 0 ? record[at] : undefined;
      return v === undefined || v === '' ? undefined : v;
    };
    const email = cell('email')?.toLowerCase();
    const creditsText = cell('credits') ?? '0';
    const credits = Number(creditsText);
    const row: MemberRow = { line, email: email ?? '', credits };
    if (!email || !EMAIL.test(email)) faults.push(`line ${line}: "${email ?? ''}" is not an e-mail address`);
    else if (seen.has(email)) faults.push(`line ${line}: ${email} is already on line ${seen.get(email)}`);
    else seen.set(email, line);
    if (!Number.isInteger(credits) || credits < 0) faults.push(`line ${line}: credits "${creditsText}" is not a whole number ≥ 0`);
    const name = cell('name');
    if (name) row.name = name;
    const expires = cell('expires');
    if (expires) {
      const at = parseExpiry(expires, timeZone);
      if (at) row.creditsExpireAt = at;
      else faults.push(`line ${line}: expires "${expires}" is not a date (YYYY-MM-DD) or ISO time`);
    }
    const active = cell('active')?.toLowerCase();
    if (active) {
      if (['true', 'yes', '1'].includes(active)) row.active = true;
      else if (['false', 'no', '0'].includes(active)) row.active = false;
      else faults.push(`line ${line}: active "${active}" is not true/false`);
    }
    const until = cell('membership_until');
    if (until) {
      if (DATE.test(until)) row.membershipUntil = until;
      else faults.push(`line ${line}: membership_until "${until}" is not a date (YYYY-MM-DD)`);
    }
    rows.push(row);
  });
  if (faults.length)
    throw new UsherError('BAD_REQUEST', `members CSV has ${faults.length} fault(s); nothing was imported`, { detail: faults });
  return rows;
}
