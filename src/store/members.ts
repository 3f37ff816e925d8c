import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import type { Queryable } from './db.ts';

export interface Member {
  email: string;
  name?: string;
  active: boolean;
  /** YYYY-MM-DD, the last day of membership in the business's time zone. */
  membershipUntil?: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberInput {
  email: string;
  name?: string;
  active?: boolean;
  membershipUntil?: string | null;
}

/** E-mail is the member's identity; Cal.com sends it in whatever case the booker typed. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

// pg turns a `date` into a Date at the process's local midnight, which shifts the day across zones: read it as text.
const MEMBER_COLUMNS = 'email, name, active, membership_until::text as membership_until, created_at, updated_at';

export const memberFromRow = rowMapper(
  'members',
  z.object({
    email: col.text,
    name: col.nullableText,
    active: col.bool,
    membership_until: col.nullableText,
    created_at: col.time,
    updated_at: col.time,
  }),
  (r): Member => ({
    email: r.email,
    ...(r.name ? { name: r.name } : {}),
    active: r.active,
    ...(r.membership_until ? { membershipUntil: r.membership_until } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }),
);

/** Creates or updates a member; fields left undefined keep their value. */
export async function upsertMember(trx: Queryable, m: MemberInput, now: Date): Promise<{ member: Member; created: boolean }> {
  const result = await trx.query(
    `insert into members (email, name, active, membership_until, created_at, updated_at)
     values ($1, $2, coalesce($3, true), $4::date, $5, $5)
     on conflict (email) do update set
       name = coalesce($2, members.name),
       active = coalesce($3, members.active),
       membership_until = case when $6 then $4::date else members.membership_until end,
       updated_at = $5
     returning ${MEMBER_COLUMNS}, (xmax = 0) as created`,
    [normaliseEmail(m.email), m.name ?? null, m.active ?? null, m.membershipUntil ?? null, now, m.membershipUntil !== undefined],
  );
  const row = result.rows[0]!;
  return { member: memberFromRow(row), created: Boolean(row.created) };
}

export async function getMember(db: Queryable, email: string): Promise<Member | undefined> {
  const result = await db.query(`select ${MEMBER_COLUMNS} from members where email = $1`, [normaliseEmail(email)]);
  return result.rows[0] ? memberFromRow(result.rows[0]) : undefined;
}

export async function listMembers(db: Queryable, filter: { search?: string; limit: number }): Promise<Member[]> {
  const result = await db.query(
    `select ${MEMBER_COLUMNS} from members where ($1::text is null or email like '%' || $1 || '%' or lower(name) like '%' || $1 || '%')
      order by email limit $2`,
    [filter.search ? filter.search.toLowerCase() : null, filter.limit],
  );
  return result.rows.map(memberFromRow);
}
