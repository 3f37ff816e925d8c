import { loadConfig, type Config, type Env } from '../config.ts';
import { formatFaults } from '../config-faults.ts';
import type { Db } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';
import { openStore } from '../store/open-store.ts';
import type { AdminClient } from './admin-client.ts';

export function config(env: Env, requireSecrets: boolean): Config {
  const result = loadConfig(env, { requireSecrets });
  if (!result.ok) {
    process.stderr.write(`usher: ${formatFaults(result.faults)}\n`);
    process.exit(2);
  }
  return result.config;
}

export type StoreAccess = { kind: 'local'; db: Db; close(): Promise<void> } | { kind: 'remote'; admin: AdminClient };

/**
 * On the machine where Usher keeps its data, commands open the store directly: the embedded
 * server `usher serve` runs (a second connection, no admin token needed), or one started for the
 * command's duration. With USHER_ADMIN_URL they go through that Usher's admin API instead.
 */
export interface AccessOptions {
  /** Apply pending migrations first (commands that write). */
  migrate?: boolean;
  /** May create the data dir and its store (false for commands that only read). */
  create?: boolean;
}

export async function storeAccess(cfg: Config, options: AccessOptions = {}): Promise<StoreAccess> {
  if (cfg.adminUrl) {
    const { AdminClient } = await import('./admin-client.ts');
    return { kind: 'remote', admin: new AdminClient(cfg.adminUrl, cfg.adminToken) };
  }
  const store = await openStore(cfg, (options.create ?? true) ? 'command' : 'read');
  try {
    if (options.migrate ?? true) await migrate(store.db);
  } catch (error) {
    await store.close();
    throw error;
  }
  return { kind: 'local', db: store.db, close: () => store.close() };
}

export async function withStore<T>(
  cfg: Config,
  local: (db: Db) => Promise<T>,
  remote: (admin: AdminClient) => Promise<T>,
  options: AccessOptions = {},
): Promise<T> {
  const access = await storeAccess(cfg, options);
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
