import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { listMigrations } from '../src/store/migrate.ts';
import { TEST_ADMIN_TOKEN } from './config.ts';
import { spawnServe } from './serve-process.ts';
import { postWebhook } from './usher.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/usher.mjs', import.meta.url));

describe('usher CLI on the embedded store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'usher.config.yaml');
  writeFileSync(configPath, 'worker: { pollIntervalMs: 50 }\n');
  const env = { PATH: process.env.PATH ?? '', USHER_CONFIG: configPath, USHER_DATA_DIR: join(dir, 'data'), USHER_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
  const usher = (...args: string[]) => run(process.execPath, [bin, ...args], { env });

  it('migrates a fresh store directly when no server holds it', async () => {
    const { stdout } = await usher('migrate');
    const all = (await listMigrations()).map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
    expect(all[0]).toBe('0001_foundation');
    expect(JSON.parse(stdout)).toEqual({ applied: all, store: 'pglite' });
    expect(JSON.parse((await usher('migrate')).stdout)).toEqual({ applied: [], store: 'pglite' });
  });

  it('goes through the running server’s admin API when it holds the store', async () => {
    const server = await spawnServe(env);
    try {
      const res = await postWebhook(server.url, JSON.stringify({ triggerEvent: 'BOOKING_CREATED', createdAt: '2026-12-01T08:00:00Z', payload: { uid: 'u1' } }));
      expect(res.body.status).toBe('unprocessable');
      const listed = JSON.parse((await usher('events', '--state', 'unprocessable')).stdout);
      expect(listed).toHaveLength(1);
      expect(listed[0].lastError).toContain('startTime');
      const replayed = JSON.parse((await usher('replay', listed[0].id)).stdout);
      expect(replayed.replayed).toMatchObject({ id: listed[0].id, state: 'pending', attempts: 0 });
      await expect(usher('replay', 'job_4242')).rejects.toMatchObject({ stderr: expect.stringContaining('no job job_4242') });
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('lists every configuration fault and exits 2', async () => {
    const failed = run(process.execPath, [bin, 'serve'], { env: { ...env, USHER_ADMIN_TOKEN: 'short', PORT: 'x' } });
    await expect(failed).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/PORT[\s\S]*CAL_WEBHOOK_SECRET[\s\S]*USHER_ADMIN_TOKEN/) });
  });
});
