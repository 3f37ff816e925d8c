import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../src/store/embedded-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    databaseLane: string;
  }
}

/**
 * One PostgreSQL server for the whole run: Usher's own embedded server (PostgreSQL 18) in a
 * throwaway data dir, or the server USHER_TEST_DATABASE_URL names (the compatibility lane runs
 * Debian's PostgreSQL 15 that way, see scripts/test.mjs). Each test file makes its own database on it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.USHER_TEST_DATABASE_URL;
  if (given) {
    project.provide('databaseUrl', given);
    project.provide('databaseLane', process.env.USHER_TEST_LANE ?? 'external');
    return async () => {};
  }
  const dir = mkdtempSync(join(tmpdir(), 'usher-test-pg-'));
  // Mode 0755: as root, the server runs as an unprivileged user that must reach its data dir.
  chmodSync(dir, 0o755);
  const server = await startEmbeddedServer({ dataDir: join(dir, 'data'), durability: 'test' });
  project.provide('databaseUrl', server.url.replace(/\/usher$/, '/postgres'));
  project.provide('databaseLane', 'embedded');
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
