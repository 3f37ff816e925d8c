import { systemClock } from '../clock.ts';
import { loadConfig, type Config, type Env } from '../config.ts';
import { formatFaults } from '../config-faults.ts';
import { UsherError } from '../errors.ts';
import type { Operations } from '../operations/operations.ts';
import type { Db } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';
import { openStore } from '../store/open-store.ts';

/** The configuration, or every fault in it (exit 2: nothing was done). */
export function config(env: Env, requireSecrets: boolean): Config {
  const result = loadConfig(env, { requireSecrets });
  if (!result.ok) throw new UsherError('CONFIG_INVALID', formatFaults(result.faults));
  return result.config;
}

export interface AccessOptions {
  /** Apply pending migrations first (commands that write). */
  migrate?: boolean;
  /** May create the data dir and its store (false for commands that only read). */
  create?: boolean;
}

/**
 * On the machine where Usher keeps its data, commands open the store directly: the embedded
 * server `usher serve` runs (a second connection, no admin token needed), or one started for the
 * command's duration. With USHER_ADMIN_URL they go through that Usher's admin API instead.
 */
export async function withOperations<T>(cfg: Config, fn: (ops: Operations) => Promise<T>, options: AccessOptions = {}): Promise<T> {
  if (cfg.adminUrl) {
    const { AdminClient, remoteOperations } = await import('../operations/remote-operations.ts');
    return fn(remoteOperations(new AdminClient(cfg.adminUrl, cfg.adminToken)));
  }
  return withLocalStore(
    cfg,
    async (db) => {
      const { localOperations } = await import('../operations/local-operations.ts');
      const { createCalClient } = await import('../create-cal-client.ts');
      const cal = () => createCalClient(cfg, db, systemClock);
      const reconcile = async () => {
        const { reconcile } = await import('../cal/reconciler.ts');
        const { reconcilerStore } = await import('../store/reconciler-store.ts');
        return reconcile(
          cal(),
          reconcilerStore(db, cfg.worker.maxAttempts, () => {}),
          () => systemClock.now(),
        );
      };
      return fn(localOperations({ db, config: cfg, now: () => systemClock.now(), cal, reconcile, actor: 'cli' }));
    },
    options,
  );
}

/** The store on this machine, for the commands that only make sense beside it (migrate, backup). */
export async function withLocalStore<T>(cfg: Config, fn: (db: Db) => Promise<T>, options: AccessOptions = {}): Promise<T> {
  const store = await openStore(cfg, (options.create ?? true) ? 'command' : 'read');
  try {
    if (options.migrate ?? true) await migrate(store.db);
    return await fn(store.db);
  } finally {
    await store.close();
  }
}
