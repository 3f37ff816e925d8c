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
  /**
   * A transaction's only: sends a write whose result nobody reads and goes on at once — the
   * statements that follow are pipelined behind it on the same connection, so they see it. If it
   * fails, the transaction does: the next statement, settle() or the commit throws its error.
   */
  later?(sql: string, params?: readonly unknown[]): void;
  /**
   * A transaction's only: sends a read and goes on at once; its answer comes when awaited (the
   * statements sent after it are answered after it). Fails the transaction as later() does.
   */
  soon?<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** A transaction's only: waits for every write sent with later() or soon(); throws the first that failed. */
  settle?(): Promise<void>;
  /** A transaction's only: sends the rows gathered so far (gather()) without waiting, as later() sends a write. */
  flush?(): void;
  /**
   * A transaction's only: adds a row to a set-based insert (Gathering) sent as one statement later —
   * before the next statement that names one of its tables, before a savepoint is set, released or
   * rolled back to, before settle() and the commit. `key`: a row with a key already gathered sends
   * the rows before it first (an upsert may not touch one row twice in one statement).
   */
  gather?(into: Gathering, row: GatheredRow, key?: string): void;
}

/**
 * An insert made for many rows at once: a worker's batch writes its decisions, the Usher events they
 * announce and the location jobs they ask for as one statement each instead of one per event. Per
 * statement PostgreSQL starts an executor, reads the triggers' and constraints' expressions again
 * and answers with its own flush, and `pg` encodes and parses a message: measured on this machine
 * 28 µs of PostgreSQL and 24–43 of Node per single-row insert against 12.5 and 7–11 per row of a
 * 32-row one (docs/benchmarks.md).
 */
export interface Gathering {
  /**
   * One statement taking the rows as one JSON array of objects, $1 (json_to_recordset … with
   * ordinality, in order): JSON.stringify encodes them in native code, where pg's array parameters
   * escape every element with regular expressions in JavaScript.
   */
  readonly sql: string;
  /**
   * Tables a later statement must not be sent before the gathered rows if it names one: those the
   * insert writes, and those whose triggers write the same tables (their rows keep their order).
   */
  readonly tables: readonly string[];
}

/** A gathered row: its columns by name, as JSON gives them to json_to_recordset (a Date as its ISO string). */
export type GatheredRow = Readonly<Record<string, unknown>>;

/** Rows gathered at most before they are sent anyway (the statement's parameter stays small). */
const GATHERED_AT_MOST = 500;

/** Adds a row to a gathered insert in a transaction; elsewhere inserts it at once. */
export async function gather(db: Queryable, into: Gathering, row: GatheredRow, key?: string): Promise<void> {
  if (db.gather) db.gather(into, row, key);
  else await db.query(into.sql, [JSON.stringify([row])]);
}

const mentions = new WeakMap<Gathering, RegExp>();

/** Whether a statement may read or write what a gathered insert writes (it names one of its tables). */
function mentionsTable(sql: string, into: Gathering): boolean {
  let pattern = mentions.get(into);
  if (!pattern) {
    pattern = new RegExp(`\\b(${into.tables.join('|')})\\b`, 'i');
    mentions.set(into, pattern);
  }
  return pattern.test(sql);
}

/** SAVEPOINT, RELEASE, ROLLBACK TO: an event's rows must go out inside its own savepoint. */
const SAVEPOINT_CONTROL = /^\s*(savepoint|release|rollback)\b/i;

/**
 * Of the errors of statements sent together in one transaction, the one that says why: those after
 * the first failure only say the transaction is aborted (SQLSTATE 25P02), and may be seen first.
 */
function causeAmong(errors: readonly unknown[]): unknown {
  return errors.find((error) => (error as { code?: unknown } | null)?.code !== '25P02') ?? errors[0];
}

/**
 * Awaits statements (or steps) sent together in one transaction, every one handled at once — a
 * failure nobody awaits would end the process (Node's unhandled rejection) — and throws the cause
 * when any failed (causeAmong).
 */
export async function allSent<T extends readonly unknown[]>(sent: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(sent);
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failed.length > 0) throw causeAmong(failed);
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** A write nobody reads the result of: sent without waiting inside a transaction, awaited elsewhere. */
export async function write(db: Queryable, sql: string, params?: readonly unknown[]): Promise<void> {
  if (db.later) db.later(sql, params);
  else await db.query(sql, params);
}

/**
 * fn in a transaction of its own whose prepared statements use their generic plans, planned once per
 * connection: for a statement run over and over whose custom plan costs more to make than to run —
 * PostgreSQL keeps choosing custom plans for statements taking arrays (store/inbox.ts says why).
 */
export function withGenericPlans<T>(db: Db, fn: (trx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await write(trx, 'set local plan_cache_mode = force_generic_plan');
    return fn(trx);
  });
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

/**
 * Usher's statements are a fixed set of texts run over and over (a worker runs a dozen per event):
 * each is prepared once per connection under a name and then only bound and executed, which saves
 * its parse and plan every time (bench:decision, one event: p50 10.6 → 7.6 ms at 300 rooms, 8.6 →
 * 4.5–6.1 ms at 20; docs/benchmarks.md). Statements without parameters (BEGIN, SET, scripts) stay
 * unnamed. Names are given to the first MAX_NAMED texts only, so SQL built with varying text could
 * never fill the server's memory with statements it will not run again.
 */
const MAX_NAMED = 2_000;
const names = new Map<string, string>();
let named = 0;

function statement(sql: string, params: readonly unknown[] | undefined): pg.QueryConfig {
  if (!params || params.length === 0) return { text: sql };
  let name = names.get(sql);
  if (name === undefined && named < MAX_NAMED) {
    name = `usher_${named++}`;
    names.set(sql, name);
  }
  return { text: sql, values: params as unknown[], ...(name ? { name } : {}) };
}

/**
 * Runs one statement, prepared. A statement prepared before a migration changed a table it reads
 * whole (`select *` after a column was added, by this process or another) is refused once by
 * PostgreSQL ("cached plan must not change result type"): its text gets a new name, so every
 * connection prepares it afresh; outside a transaction it is run again at once, inside one the
 * error stands (the transaction is lost; the caller's retry succeeds).
 */
async function run<R extends Row>(
  on: pg.Pool | pg.PoolClient,
  sql: string,
  params: readonly unknown[] | undefined,
  retry: boolean,
): Promise<QueryResult<R>> {
  try {
    const result = await on.query<R>(statement(sql, params));
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  } catch (error) {
    const stale = (error as { code?: string }).code === '0A000' && /cached plan must not change result type/.test(String(error));
    if (!stale) throw error;
    names.delete(sql);
    if (!retry) throw error;
    const result = await on.query<R>(statement(sql, params));
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  }
}

/**
 * Statements a transaction sends in one go (a batch's writes with later(), then the read that
 * follows them; BEGIN and the first read) leave in one socket write instead of one each: the
 * connection's socket is corked until the code that sent them has run to its next wait (pg corks
 * each statement's own messages the same way). Returns the function to call before each send.
 */
function holdWrites(client: pg.PoolClient): () => void {
  const socket = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
  let held = false;
  return () => {
    if (held || !socket?.cork || !socket.uncork) return;
    socket.cork();
    held = true;
    process.nextTick(() => {
      held = false;
      socket.uncork!();
    });
  };
}

export async function openPostgres(connectionString: string, options: { kind?: StoreKind; maxConnections?: number } = {}): Promise<Db> {
  const maxConnections = options.maxConnections ?? 10;
  // Pipelined (pg's `pipeline`): statements issued before the last one answered go out at once
  // instead of waiting in the client's queue — a transaction's BEGIN and the writes sent with
  // later() cost no round trip of their own. Each statement still has its own Sync, so one error is
  // that statement's alone (inside a transaction it fails the transaction, as before).
  const pool = new pg.Pool({ connectionString, max: maxConnections, pipeline: true });
  // An idle client that loses its server emits 'error'; without a listener that crashes the process.
  pool.on('error', () => {});
  await pool.query('select 1');
  const listeners: pg.PoolClient[] = [];
  const sessions = new Set<pg.PoolClient>();
  return {
    kind: options.kind ?? 'external',
    async query(sql, params) {
      return run(pool, sql, params, true);
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client = await pool.connect();
      const hold = holdWrites(client);
      // Statements sent without waiting (BEGIN, later()); the first failure among them is the
      // transaction's real error — the statements behind it only say the transaction is aborted.
      const inFlight: Promise<void>[] = [];
      let failure: { error: unknown } | undefined;
      const send = (sent: Promise<unknown>) =>
        inFlight.push(
          sent.then(
            () => undefined,
            (error: unknown) => {
              failure ??= { error };
            },
          ),
        );
      // Rows gathered for set-based inserts (gather()), per insert, in the order they came.
      const gathered = new Map<Gathering, { rows: GatheredRow[]; keys: Set<string> }>();
      const sendGathered = (into: Gathering) => {
        const pending = gathered.get(into);
        if (!pending) return;
        gathered.delete(into);
        hold();
        send(run(client, into.sql, [JSON.stringify(pending.rows)], false));
      };
      const before = (sql: string) => {
        if (gathered.size === 0) return;
        const all = SAVEPOINT_CONTROL.test(sql);
        for (const into of [...gathered.keys()]) if (all || mentionsTable(sql, into)) sendGathered(into);
      };
      const flush = () => {
        for (const into of [...gathered.keys()]) sendGathered(into);
      };
      const settle = async () => {
        flush();
        await Promise.all(inFlight.splice(0));
        const failed = failure;
        failure = undefined;
        if (failed) throw failed.error;
      };
      try {
        hold();
        send(client.query('begin'));
        const value = await fn({
          async query(sql, params) {
            before(sql);
            hold();
            try {
              return await run(client, sql, params, false);
            } catch (error) {
              // The transaction (or the savepoint's part) is lost with this error: rows gathered
              // behind it would only fail as well, and say so instead of it. The cause is told: a
              // write sent before this statement that failed (this one then only says the
              // transaction is aborted), else this statement's own error, not that of a read sent
              // after it (Queryable.soon), which only says so.
              gathered.clear();
              const earlier = await settle().then(
                () => undefined,
                (failed: unknown) => failed,
              );
              throw earlier === undefined ? error : causeAmong([earlier, error]);
            }
          },
          async exec(sql) {
            before(sql);
            await client.query(sql);
          },
          later(sql, params) {
            before(sql);
            hold();
            send(run(client, sql, params, false));
          },
          soon<R extends Row = Row>(sql: string, params?: readonly unknown[]) {
            before(sql);
            hold();
            const answer = run<R>(client, sql, params, false);
            send(answer);
            return answer;
          },
          settle,
          flush,
          gather(into, row, key) {
            let pending = gathered.get(into);
            if (pending && key !== undefined && pending.keys.has(key)) {
              sendGathered(into);
              pending = undefined;
            }
            if (!pending) {
              pending = { rows: [], keys: new Set() };
              gathered.set(into, pending);
            }
            pending.rows.push(row);
            if (key !== undefined) pending.keys.add(key);
            if (pending.rows.length >= GATHERED_AT_MOST) sendGathered(into);
          },
        });
        // COMMIT goes out behind the writes still in flight (gathered rows first, settle()); if one
        // failed, the server ends the transaction with a rollback instead, and its error is thrown here.
        hold();
        const [settled, committed] = await Promise.allSettled([settle(), client.query('commit')]);
        if (settled.status === 'rejected') throw settled.reason;
        if (committed.status === 'rejected') throw committed.reason;
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
          return run(client, sql, params, false);
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
