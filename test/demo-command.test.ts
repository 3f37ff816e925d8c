import { exec, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { clockEnv, freePort } from './serve-process.ts';

const bin = fileURLToPath(new URL('../bin/usher.mjs', import.meta.url));
const shell = promisify(exec);

/**
 * `npm start` without CAL_API_KEY is the demo, the first thing a newcomer runs (README: "It prints
 * where to look, with commands that work as printed"). Started from an empty directory, every
 * command it prints is run exactly as printed, by a shell in that directory.
 */
describe('the demo, started from an empty directory', () => {
  it('prints commands that work as printed, and Ctrl-C stops it all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-demo-'));
    chmodSync(dir, 0o755); // run as root, the embedded server's own user must reach its data dir
    const env = {
      PATH: process.env.PATH ?? '',
      ...clockEnv(),
      PORT: String(await freePort()),
      SANDBOX_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    };
    const started: (() => Promise<number | null>)[] = [];
    // A demo running in the shell as typed (exec: Ctrl-C reaches Usher itself), up once it says how to stop it.
    const demo = async (command: string) => {
      const child = spawn('bash', ['-c', `exec ${command}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const deadline = Date.now() + 90_000;
      while (!out.includes('Ctrl-C stops everything.')) {
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`the demo did not start:\n${out}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const stop = async () => {
        child.kill('SIGINT');
        return exited;
      };
      started.push(stop);
      return { out, stop };
    };
    const first = await demo(`${process.execPath} ${bin} demo`);
    try {
      // "  label     what to type   (a note)": what to type, the note left off.
      const printed = (label: string) => {
        const line = first.out.split('\n').find((l) => l.startsWith(`  ${label} `));
        if (!line) throw new Error(`no "${label}" line in:\n${first.out}`);
        return line
          .slice(label.length + 2)
          .replace(/\s{2,}\(.*\)\s*$/, '')
          .trim();
      };
      const run = async (command: string) => (await shell(command, { cwd: dir, env, timeout: 30_000 })).stdout;

      const board = await fetch(printed('room board'));
      expect([board.status, await board.text()]).toEqual([200, expect.stringContaining('<html')]);
      expect(await (await fetch(printed('metrics'))).text()).toContain('usher_webhooks');
      const events = JSON.parse(await run(printed('events (API)'))) as { data: { trigger: string }[] };
      expect(events.data.length).toBeGreaterThan(0);
      expect(await run(printed('events (CLI)'))).toMatch(/^ID\s+TRIGGER\s+BOOKING\s+STATE/);
      const [held, balance] = printed('gate').split(' · ');
      expect(await run(held!)).toMatch(/nothing is held|HELD/i);
      expect(await run(balance!)).toContain('ada.lovelace@example.com (Ada Lovelace)');
      const bookings = JSON.parse(await run(printed('sandbox Cal.com'))) as { status: string; data: unknown[] };
      expect([bookings.status, bookings.data.length > 0]).toEqual(['success', true]);

      expect(await first.stop()).toBe(0);
      const afresh = await demo(printed('start afresh'));
      expect(afresh.out).toContain('usher demo: started afresh');
      expect(await afresh.stop()).toBe(0);
    } finally {
      await Promise.all(started.map((stop) => stop()));
    }
  }, 180_000);
});
