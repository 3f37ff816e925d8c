import pg from 'pg';

export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  rowCount: number;
}

/** Anything that runs SQL: the store itself or an open transaction. */
export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * A connection kept for one caller. `lost` settles when the connection breaks (whatever it held on
 * the server is gone with it); `end` closes it, so nothing it held outlives it in the pool.
 */
export interface Session extends Queryable {
  readonly lost: Promise<void>;
  end(): void;
}

/** `embedded`: the PostgreSQL server Usher owns in its data dir; `external`: DATABASE_URL. */
export type StoreKind = 'embedded' | 'external';

export interface Db extends Queryable {
  readonly kind: StoreKind;
  /** Runs fn in one transaction on one connection of the pool; inside fn use only `trx`. */
  transaction<T>(fn: (trx: Queryable) => Promise<T>): Promise<T>;
  /** Subscribes to NOTIFY on a channel; returns the unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** One connection of its own, for what lasts as long as a connection does (a session advisory lock). */
  session(): Promise<Session>;
  close(): Promise<void>;
}

export async function openPostgres(connectionString: string, options: { kind?: StoreKind; maxConnections?: number } = {}): Promise<Db> {
  const maxConnections = options.maxConnections ?? 10;
  const pool = new pg.Pool({ connectionString, max: maxConnections });
  // An idle client that loses its server emits 'error'; without a listener that crashes the process.
  pool.on('error', () => {});
  await pool.query('select 1');
  const listeners: pg.PoolClient[] = [];
  const sessions = new Set<pg.PoolClient>();
  return {
    kind: options.kind ?? 'external',
    async query(sql, params) {
      const result = await pool.query(sql, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const value = await fn({
          async query(sql, params) {
            const result = await client.query(sql, params as unknown[] | undefined);
            return { rows: result.rows, rowCount: result.rowCount ?? 0 };
          },
          async exec(sql) {
            await client.query(sql);
          },
        });
        await client.query('commit');
        return value;
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async listen(channel, onNotify) {
      const client = await pool.connect();
      listeners.push(client);
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await client.query(`listen ${pg.escapeIdentifier(channel)}`);
      return async () => {
        await client.query(`unlisten ${pg.escapeIdentifier(channel)}`).catch(() => {});
        client.release();
        listeners.splice(listeners.indexOf(client), 1);
      };
    },
    async session() {
      const client = await pool.connect();
      let lose = () => {};
      const lost = new Promise<void>((resolve) => {
        lose = resolve;
      });
      const broken = () => lose();
      client.on('error', broken);
      client.on('end', broken);
      sessions.add(client);
      return {
        lost,
        async query(sql, params) {
          const result = await client.query(sql, params as unknown[] | undefined);
          return { rows: result.rows, rowCount: result.rowCount ?? 0 };
        },
        async exec(sql) {
          await client.query(sql);
        },
        end() {
          if (!sessions.delete(client)) return;
          // Destroyed, not returned to the pool: a session lock must not live on in another caller's connection.
          client.release(true);
          lose();
        },
      };
    },
    async close() {
      for (const client of sessions) client.release(true);
      sessions.clear();
      for (const client of listeners.splice(0)) client.release();
      await pool.end();
    },
  };
}
