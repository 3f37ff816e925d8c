import type { Queryable } from './db.ts';

export type BoardRole = 'staff' | 'display';

export interface BoardSession {
  userName: string;
  role: BoardRole;
  tokenFingerprint: string;
  csrfToken: string;
  expiresAt: Date;
}

export async function createBoardSession(db: Queryable, idHash: string, s: BoardSession, now: Date): Promise<void> {
  // Expired sessions go when new ones come: the table never grows past the live ones by much.
  await db.query('delete from board_sessions where expires_at <= $1', [now]);
  await db.query(
    `insert into board_sessions (id_hash, user_name, role, token_fingerprint, csrf_token, created_at, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [idHash, s.userName, s.role, s.tokenFingerprint, s.csrfToken, now, s.expiresAt],
  );
}

export async function getBoardSession(db: Queryable, idHash: string, now: Date): Promise<BoardSession | undefined> {
  const result = await db.query('select * from board_sessions where id_hash = $1 and expires_at > $2', [idHash, now]);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    userName: row.user_name as string,
    role: row.role as BoardRole,
    tokenFingerprint: row.token_fingerprint as string,
    csrfToken: row.csrf_token as string,
    expiresAt: new Date(row.expires_at as Date),
  };
}

export async function deleteBoardSession(db: Queryable, idHash: string): Promise<void> {
  await db.query('delete from board_sessions where id_hash = $1', [idHash]);
}
