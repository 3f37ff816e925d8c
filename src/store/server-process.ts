import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync } from 'node:fs';
import { UsherError } from '../errors.ts';

/** How the embedded server's processes are run and looked at: as whom, and whether one lives. */

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function isAlive(pid: number): boolean {
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

export interface Owner {
  uid: number;
  gid: number;
}

/** Root runs the server as an unprivileged system user, created once if missing (README: "Running as root"). */
export function serverOwner(name: string, log: (m: string) => void): Owner | undefined {
  if (!isRoot()) return undefined;
  const lookup = () => {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : undefined;
  };
  const found = lookup();
  if (found) return found;
  const made = spawnSync(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) {
    throw new UsherError(
      'STORE_UNAVAILABLE',
      `PostgreSQL refuses to run as root and the system user "${name}" could not be created: ${made.stderr.trim()}`,
    );
  }
  log(`created the system user "${name}" to run the embedded PostgreSQL server (it refuses to run as root)`);
  const created = lookup();
  if (!created) throw new UsherError('STORE_UNAVAILABLE', `created the system user "${name}" but cannot find it`);
  return created;
}

export function runAs(owner: Owner | undefined, cmd: string, args: readonly string[], what: string): string {
  const options: SpawnSyncOptions = {
    encoding: 'utf8',
    // The server's own messages in English whatever the machine's locale; no inherited PG* settings.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LC_ALL: 'C',
      LANG: 'C',
      ...(process.env.LD_PRELOAD ? { LD_PRELOAD: process.env.LD_PRELOAD } : {}),
      ...fakeTimeEnv(),
    },
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
export function fakeTimeEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('FAKETIME') && e[1] !== undefined),
  );
}

export function ownTo(owner: Owner | undefined, path: string, mode: number): void {
  mkdirSync(path, { recursive: true });
  if (owner) chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
}

/** Throws with a way out when the server's user cannot reach the data dir (a parent such as /root is private). */
export function checkReachable(owner: Owner | undefined, dataDir: string, userName: string): void {
  if (!owner) return;
  const probe = spawnSync('test', ['-x', dataDir], { uid: owner.uid, gid: owner.gid });
  if (probe.status !== 0) {
    throw new UsherError(
      'STORE_UNAVAILABLE',
      `Usher runs as root, so its PostgreSQL server runs as "${userName}", which cannot reach ${dataDir} (a parent directory is private). Set USHER_DATA_DIR to a directory it can reach (e.g. /var/lib/usher), or run Usher as an ordinary user`,
    );
  }
}
