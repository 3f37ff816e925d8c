import type { Db, Session } from './db.ts';

/** The views the board's computing process publishes (migration 0018). */
export const BOARD_VIEW_CHANNEL = 'usher_board_view';

export interface BoardFeedEntry {
  version: number;
  /** The SSE data of the patch from version - 1 (absent on the first whole view). */
  patch: string | null;
  /** The whole view at this version, as JSON (the first one, and every so often). */
  whole: string | null;
}

/**
 * Takes the board's computing role for this session if no other session holds it. Held until the
 * session ends (the process stops, its last viewer leaves, or the connection breaks).
 */
export async function tryLeadBoard(session: Session): Promise<boolean> {
  const result = await session.query<{ ok: boolean }>(`select pg_try_advisory_lock(hashtext('usher.board'), 0) as ok`);
  return result.rows[0]!.ok;
}

/**
 * Publishes a version of the board and wakes every process. Without waiting for the disk: the feed
 * is derived, and a crash at worst makes viewers reconnect. A version already taken (a process
 * that lost its lock without noticing) fails on the key, and that process stops computing. A whole
 * view lets the feed forget what came before the previous whole view.
 */
export async function publishBoardView(session: Session, entry: BoardFeedEntry): Promise<void> {
  await session.query('begin');
  try {
    await session.query('set local synchronous_commit = off');
    await session.query('insert into board_feed (version, patch, whole) values ($1, $2, $3)', [entry.version, entry.patch, entry.whole]);
    if (entry.whole !== null)
      await session.query(
        `delete from board_feed where version < (select max(version) from board_feed where whole is not null and version < $1)`,
        [entry.version],
      );
    await session.query(`select pg_notify('${BOARD_VIEW_CHANNEL}', $1)`, [String(entry.version)]);
    await session.query('commit');
  } catch (error) {
    await session.query('rollback').catch(() => {});
    throw error;
  }
}

/** Tells every process that no process computes the board any more (its last viewer left). */
export async function releaseBoard(db: Db): Promise<void> {
  await db.query(`select pg_notify('${BOARD_VIEW_CHANNEL}', 'released')`);
}

/**
 * The feed after `after`, in order; from the newest whole view when `after` is undefined (nothing
 * shown yet). The caller checks the chain: a first entry that is not `after + 1` means it fell
 * behind past what is kept, and it reads again from the newest whole view.
 */
export async function readBoardFeed(db: Db, after: number | undefined): Promise<BoardFeedEntry[]> {
  const result = await db.query<{ version: string; patch: string | null; whole: string | null }>(
    after === undefined
      ? `select version, patch, whole from board_feed
          where version >= (select max(version) from board_feed where whole is not null) order by version`
      : 'select version, patch, whole from board_feed where version > $1 order by version',
    after === undefined ? [] : [after],
  );
  return result.rows.map((r) => ({ version: Number(r.version), patch: r.patch, whole: r.whole }));
}
