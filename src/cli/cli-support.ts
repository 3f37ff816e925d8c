import { loadConfig, type Config, type Env } from '../config.ts';
import { isUsherError, UsherError } from '../errors.ts';
import { readLockOwner } from '../store/data-dir-lock.ts';
import type { Db } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';
import { openStore } from '../store/open-store.ts';
import { AdminClient } from './admin-client.ts';

export function config(env: Env, requireSecrets: boolean): Config {
  const result = loadConfig(env, { requireSecrets });
  if (!result.ok) {
    process.stderr.write(`usher: configuration has ${result.faults.length} fault(s):\n${result.faults.map((f) => `  - ${f}`).join('\n')}\n`);
    process.exit(2);
  }
  return result.config;
}

export type StoreAccess = { kind: 'local'; db: Db; close(): Promise<void> } | { kind: 'remote'; admin: AdminClient };

/**
 * The embedded store admits one process. When `usher serve` holds it, CLI commands go through its
 * admin API instead of failing; with PostgreSQL they open the database directly.
 */
export async function storeAccess(cfg: Config, migrateOnOpen: boolean): Promise<StoreAccess> {
  try {
    const store = await openStore(cfg);
    if (migrateOnOpen) await migrate(store.db);
    return { kind: 'local', db: store.db, close: () => store.close() };
  } catch (error) {
    if (!isUsherError(error, 'DATA_DIR_LOCKED')) throw error;
    const owner = readLockOwner(cfg.dataDir);
    if (!owner?.adminUrl) throw new UsherError('DATA_DIR_LOCKED', `${error.message}, and it has no admin API to go through yet`);
    return { kind: 'remote', admin: new AdminClient(owner.adminUrl, cfg.adminToken) };
  }
}

export async function withStore<T>(
  cfg: Config,
  local: (db: Db) => Promise<T>,
  remote: (admin: AdminClient) => Promise<T>,
  migrateOnOpen = true,
): Promise<T> {
  const access = await storeAccess(cfg, migrateOnOpen);
  if (access.kind === 'remote') return remote(access.admin);
  try {
    return await local(access.db);
  } finally {
    await access.close();
  }
}

export function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

