import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { UsherError } from '../errors.ts';

export interface LockOwner {
  pid: number;
  startedAt: string;
  /** Where the owning `usher serve` answers its admin API, so CLI commands can go through it. */
  adminUrl?: string;
}

export interface DataDirLock {
  readonly path: string;
  setAdminUrl(url: string): void;
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLockOwner(dataDir: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(dataDir, 'usher.lock'), 'utf8')) as LockOwner;
    return isAlive(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One `usher serve` per data dir: a second would run a second set of loops over the same store and
 * stop the embedded server under the first when it exits. An O_EXCL lock file with the owner's pid
 * and admin URL; a lock left by a dead process is taken over. (The server itself is guarded by
 * PostgreSQL's own postmaster.pid; CLI commands share it without this lock.)
 */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'usher.lock');
  const owner: LockOwner = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(owner));
      closeSync(fd);
      return {
        path,
        setAdminUrl(url) {
          owner.adminUrl = url;
          const fd2 = openSync(path, 'w', 0o600);
          writeSync(fd2, JSON.stringify(owner));
          closeSync(fd2);
        },
        release() {
          try {
            const current = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
            if (current.pid === process.pid) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = readLockOwner(dataDir);
      if (current) {
        const where = current.adminUrl ? `, answering at ${current.adminUrl}` : '';
        throw new UsherError(
          'DATA_DIR_LOCKED',
          `Usher is already running on ${dataDir} (process ${current.pid}${where}, since ${current.startedAt})`,
          {
            detail: current,
          },
        );
      }
      try {
        unlinkSync(path);
      } catch {
        // another process removed the stale lock first; try again
      }
    }
  }
  throw new UsherError('DATA_DIR_LOCKED', `could not lock data directory ${dataDir}`);
}
