import type { Db, Queryable } from '../src/store/db.ts';

/** A statement a transaction sent: awaited (`query`) or read behind the writes without waiting (`soon`), and its text. */
export interface SentStatement {
  how: 'query' | 'soon';
  sql: string;
}

/** The store, recording how each statement of a transaction was sent, in `sent`. */
export function recordedDb(db: Db): { sent: SentStatement[]; db: Db } {
  const sent: SentStatement[] = [];
  const wrap = (trx: Queryable): Queryable => ({
    ...trx,
    query: (sql, params) => {
      sent.push({ how: 'query', sql });
      return trx.query(sql, params);
    },
    soon: (sql, params) => {
      sent.push({ how: 'soon', sql });
      return trx.soon!(sql, params);
    },
  });
  return { sent, db: { ...db, transaction: <T>(fn: (trx: Queryable) => Promise<T>) => db.transaction((trx) => fn(wrap(trx))) } as Db };
}
