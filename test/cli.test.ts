import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { listMigrations } from '../src/store/migrate.ts';
import { TEST_ADMIN_TOKEN, TEST_SECRET } from './config.ts';
import { spawnServe } from './serve-process.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { postWebhook, until } from './usher.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/usher.mjs', import.meta.url));

describe('usher CLI on the embedded store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-cli-'));
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'usher.config.yaml');
  writeFileSync(configPath, 'worker: { pollIntervalMs: 50 }\n');
  const env = {
    PATH: process.env.PATH ?? '',
    USHER_CONFIG: configPath,
    USHER_DATA_DIR: join(dir, 'data'),
    USHER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  };
  const usher = (...args: string[]) => run(process.execPath, [bin, ...args], { env });

  it('migrates a fresh store directly when no server holds it', async () => {
    const { stdout } = await usher('migrate', '--json');
    const all = (await listMigrations()).map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
    expect(all[0]).toBe('0001_foundation');
    expect(JSON.parse(stdout)).toEqual({ applied: all, store: 'embedded' });
    expect(JSON.parse((await usher('migrate', '--json')).stdout)).toEqual({ applied: [], store: 'embedded' });
  });

  it('works beside a running usher serve by connecting to its embedded server directly, without the admin token', async () => {
    const server = await spawnServe(env);
    try {
      const res = await postWebhook(
        server.url,
        JSON.stringify({ triggerEvent: 'BOOKING_CREATED', createdAt: '2026-12-01T08:00:00Z', payload: { uid: 'u1' } }),
      );
      expect(res.body.status).toBe('unprocessable');
      const direct = (...args: string[]) => run(process.execPath, [bin, ...args], { env: { ...env, USHER_ADMIN_TOKEN: '' } });
      const listed = JSON.parse((await direct('events', '--state', 'unprocessable', '--json')).stdout);
      expect(listed).toHaveLength(1);
      expect(listed[0].lastError).toContain('startTime');
      const replayed = JSON.parse((await direct('replay', listed[0].id, '--json')).stdout);
      expect(replayed.replayed).toMatchObject([{ id: listed[0].id, state: 'pending', attempts: 0 }]);
      await expect(direct('replay', 'job_4242')).rejects.toMatchObject({ stderr: expect.stringContaining('no job job_4242') });
      // From another machine, the same commands go through the admin API (USHER_ADMIN_URL).
      const remote = JSON.parse(
        (
          await run(process.execPath, [bin, 'events', '--json'], {
            env: { ...env, USHER_DATA_DIR: join(dir, 'elsewhere'), USHER_ADMIN_URL: server.url },
          })
        ).stdout,
      );
      expect(remote.map((e: { id: string }) => e.id)).toContain(listed[0].id);
      expect(existsSync(join(dir, 'elsewhere')), 'a remote command touches no local data dir').toBe(false);
      // A second usher serve on the same data dir says that one is running, and where.
      const second = run(process.execPath, [bin, 'serve'], { env: { ...env, PORT: '0', CAL_WEBHOOK_SECRET: TEST_SECRET } });
      await expect(second).rejects.toMatchObject({
        stderr: expect.stringMatching(new RegExp(`already running on .*\\(process ${server.child.pid}, answering at ${server.url}`)),
      });
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('refuses bad arguments before any work, saying what is allowed, with exit 2', async () => {
    const nowhere = join(dir, 'never-made-either');
    const cases: [string[], RegExp][] = [
      [['events', '--limit', 'abc'], /option '--limit <n>' argument 'abc' is invalid\. must be a whole number from 1 to 1000/],
      [
        ['events', '--state', 'bogus'],
        /argument 'bogus' is invalid\. Allowed choices are pending, running, done, ignored, unprocessable, dead/,
      ],
      [['jobs', '--bogus'], /unknown option '--bogus'/],
      [['evnts'], /unknown command 'evnts'\n\(Did you mean events\?\)/],
      [['credits', 'grant', 'ann@example.com', 'two'], /value 'two' is invalid for argument 'n'\. must be a whole number/],
      [['gate', 'decline', 'bk_1'], /required option '--reason <text>' not specified/],
      [['rooms', 'block', '1A', '--until', 'tomorrow', '--reason', 'x'], /must be an ISO time with its offset/],
      [['replay'], /name what to replay \(evt_N, job_N\) or use --dead/],
    ];
    for (const [args, message] of cases) {
      await expect(run(process.execPath, [bin, ...args], { env: { ...env, USHER_DATA_DIR: nowhere } })).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringMatching(message),
      });
    }
    expect(existsSync(nowhere)).toBe(false);
    expect((await usher('--version')).stdout).toMatch(/^usher \d+\.\d+\.\d+\n$/);
  });

  it('answers people with tables and scripts with JSON, with no colour off a terminal, and every command has help with an example', async () => {
    const table = (await usher('events')).stdout;
    expect(table).toMatch(/^ID +TRIGGER +BOOKING +STATE +TRIES +RECEIVED +LAST ERROR\n/);
    expect(table).toMatch(/evt_\d+ +BOOKING_CREATED +u1 +unprocessable +\d+\/\d+ +\d{4}-\d\d-\d\d \d\d:\d\d +.*startTime/);
    expect(table).not.toContain('\u001b[');
    expect((await usher('jobs', '--state', 'dead')).stdout).toBe('no dead jobs\n');
    // Every command, as the program declares it (a command added later is checked too).
    const { usherProgram } = await import('../src/cli/usher-program.ts');
    const leaves = (c: Command): Command[] => (c.commands.length ? c.commands.flatMap(leaves) : [c]);
    const all = leaves(usherProgram({})).filter((c) => c.name() !== 'help');
    expect(all.length).toBeGreaterThan(25);
    for (const command of all) {
      const path = [];
      for (let c: Command | null = command; c?.parent; c = c.parent) path.unshift(c.name());
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      const name = path.join(' ');
      expect(help, name).toContain(`Usage: usher ${name}`);
      expect(help, name).toMatch(new RegExp(`Examples:\\n  \\$ (\\S+=\\S+ )*usher ${name}`));
    }
    // And through the real command line: help is an answer (exit 0), listing every command.
    const top = (await usher('help')).stdout;
    for (const command of usherProgram({}).commands) expect(top).toContain(`  ${command.name()}`);
    expect((await usher('rooms', 'block', '--help')).stdout).toContain('--from <time>');
  });

  it('a command that only reads never creates a data dir', async () => {
    const nowhere = join(dir, 'never-made');
    const failed = run(process.execPath, [bin, 'events'], { env: { ...env, USHER_DATA_DIR: nowhere } });
    await expect(failed).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`no Usher data in ${nowhere}`) });
    expect(existsSync(nowhere)).toBe(false);
  });

  it('usher config check prints the configuration with secrets masked, or every fault with a did-you-mean', async () => {
    const good = await run(process.execPath, [bin, 'config', 'check', '--json'], { env: { ...env, CAL_WEBHOOK_SECRET: TEST_SECRET } });
    const shown = JSON.parse(good.stdout);
    expect(shown.environment).toMatchObject({
      USHER_ADMIN_TOKEN: expect.stringMatching(/^set \(\d+ characters, not shown\)$/),
      CAL_WEBHOOK_SECRET: expect.stringContaining('not shown'),
    });
    expect(good.stdout).not.toContain(TEST_ADMIN_TOKEN);
    expect(good.stdout).not.toContain(TEST_SECRET);
    expect(shown.settings.worker.pollIntervalMs).toBe(50);
    const typo = join(dir, 'typo.yaml');
    writeFileSync(typo, 'roomz:\n  - { name: "1A" }\n');
    const failed = run(process.execPath, [bin, 'config', 'check', typo], { env: { ...env, CAL_WEBHOOK_SECRET: TEST_SECRET } });
    await expect(failed).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(`${typo}: roomz: unknown key — did you mean "rooms"?`),
    });
  });

  it('lists every configuration fault and exits 2', async () => {
    const failed = run(process.execPath, [bin, 'serve'], { env: { ...env, USHER_ADMIN_TOKEN: 'short', PORT: 'x' } });
    await expect(failed).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/PORT[\s\S]*CAL_WEBHOOK_SECRET[\s\S]*USHER_ADMIN_TOKEN/),
    });
  });
});

describe('usher slots and usher book against the sandbox Cal.com', () => {
  it('lists free slots and books once per idempotency key, directly and through a running Usher', async () => {
    const { Sandbox } = await import('../src/sandbox/sandbox-server.ts');
    const { loadSeed } = await import('../src/sandbox/load-seed.ts');
    const sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    const dir = mkdtempSync(join(tmpdir(), 'usher-cli-book-'));
    chmodSync(dir, 0o755);
    const configPath = join(dir, 'usher.config.yaml');
    writeFileSync(configPath, 'timeZone: Europe/London\nreconciler: { intervalSeconds: 0 }\n');
    const env = {
      PATH: process.env.PATH ?? '',
      USHER_CONFIG: configPath,
      USHER_DATA_DIR: join(dir, 'data'),
      USHER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      CAL_API_URL: sandbox.url,
      CAL_API_KEY: 'cal_sandbox_demo_key',
    };
    const usher = (...args: string[]) => run(process.execPath, [bin, ...args], { env });
    try {
      const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
      const slots = JSON.parse((await usher('slots', '--event-type', '7', '--from', day, '--to', day, '--json')).stdout) as Record<
        string,
        { start: string }[]
      >;
      const first = Object.values(slots).flat()[0]!.start;
      const book = (key: string) =>
        usher(
          'book',
          '--event-type',
          '7',
          '--start',
          first,
          '--name',
          'Cli Booker',
          '--email',
          'cli@example.com',
          '--meta',
          'source=cli',
          '--meta',
          'plan=gold',
          '--idempotency-key',
          key,
          '--json',
        );
      const made = await book('cli-key-0001');
      const booking = JSON.parse(made.stdout) as { uid: string; metadata: Record<string, string> };
      expect(booking.metadata).toEqual({ source: 'cli', plan: 'gold' });
      expect(made.stderr).toContain('idempotency key: cli-key-0001');
      expect(JSON.parse((await book('cli-key-0001')).stdout).uid).toBe(booking.uid);

      const server = await spawnServe(env);
      try {
        // Beside a running Usher (sharing its embedded server): same key, same booking.
        expect(JSON.parse((await book('cli-key-0001')).stdout).uid).toBe(booking.uid);
        await expect(book('cli-key-0002')).rejects.toMatchObject({ stderr: expect.stringContaining('SLOT_TAKEN') });
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
      expect([...sandbox.state.bookings.values()].filter((b) => b.attendee.email === 'cli@example.com')).toHaveLength(1);
    } finally {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('usher insights, what-if and calendars beside a running Usher', () => {
  it('reads a day back as a table and CSV, replays it without a room and with one added, and makes and revokes a room’s calendar', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-cli-insights-'));
    chmodSync(dir, 0o755);
    const configPath = join(dir, 'usher.config.yaml');
    writeFileSync(
      configPath,
      'timeZone: UTC\nworker: { pollIntervalMs: 50 }\nrooms:\n  - { name: "1A", floor: 1 }\n  - { name: "2B", floor: 2, equipment: [ecg] }\n',
    );
    const env = { PATH: process.env.PATH ?? '', USHER_CONFIG: configPath, USHER_DATA_DIR: join(dir, 'data'), USHER_ADMIN_TOKEN: '' };
    const usher = (...args: string[]) => run(process.execPath, [bin, ...args], { env });
    const server = await spawnServe({ ...env, USHER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    try {
      const start = new Date(Date.now() + 2 * 86_400_000);
      start.setUTCHours(10, 0, 0, 0);
      const day = start.toISOString().slice(0, 10);
      const b = sampleBooking({ uid: 'cli-insights-1', start, end: new Date(start.getTime() + 30 * 60_000) });
      expect(
        (await postWebhook(server.url, envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()))).status,
      ).toBe(200);
      await until('the booking has a room', async () => {
        const rows = JSON.parse((await usher('insights', '--from', day, '--to', day, '--grain', 'day', '--json')).stdout);
        return rows.rooms.some((r: { bookings: number }) => r.bookings === 1);
      });
      const table = (await usher('insights', '--from', day, '--to', day, '--grain', 'day')).stdout;
      expect(table).toMatch(new RegExp(`${day} +1A +5% +0\\.5 +10\\.0 +1 `));
      const csv = (await usher('insights', '--from', day, '--to', day, '--grain', 'day', '--csv')).stdout;
      expect(csv.split('\r\n')[1]).toBe(`1A,${day},600,30,1,0,2,570,0,0,0,0,0,0.05`);

      const replay = JSON.parse((await usher('what-if', '--from', day, '--to', day, '--without', '1A', '--json')).stdout);
      expect(replay).toMatchObject({
        bookings: 1,
        differences: { otherRoom: 1, sample: [{ uid: 'cli-insights-1', recorded: '1A', whatIf: '2B' }] },
      });
      const words = (await usher('what-if', '--from', day, '--to', day, '--add', '3C ecg,xray', '--cleaning', '1A=15')).stdout;
      expect(words).toContain('1 booking that needed a room');
      expect(words).toMatch(/\n3C +— +— +0 +0%\n/);
      await expect(usher('what-if', '--from', day, '--to', day, '--without', '1a')).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining('did you mean "1A"?'),
      });

      const made = JSON.parse((await usher('calendars', 'add', '--room', '1A', '--json')).stdout);
      const url = made.url.replace(/^http:\/\/[^/]+/, server.url);
      expect(await (await fetch(url)).text()).toContain('UID:cli-insights-1@usher');
      expect((await usher('calendars')).stdout).toMatch(/1 +room 1A +initials/);
      expect((await usher('calendars', 'revoke', String(made.feed.id))).stdout).toBe('Feed 1 (room 1A) revoked.\n');
      expect((await fetch(url)).status).toBe(404);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('usher connect and usher doctor against the sandbox Cal.com', () => {
  it('check the key and its organisation, make the organisation’s webhook subscription right, and refuse a key that cannot', async () => {
    const { Sandbox } = await import('../src/sandbox/sandbox-server.ts');
    const { loadSeed } = await import('../src/sandbox/load-seed.ts');
    const sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    const dir = mkdtempSync(join(tmpdir(), 'usher-cli-connect-'));
    chmodSync(dir, 0o755);
    const configPath = join(dir, 'usher.config.yaml');
    // Event type 8 is Dr Turing's (host 6), 7 is Dr Byron's (host 5, the organisation's admin).
    writeFileSync(
      configPath,
      'reconciler: { intervalSeconds: 0 }\neventTypes:\n  "7": { title: Consultation }\n  "8": { title: ECG check }\n',
    );
    const base = {
      PATH: process.env.PATH ?? '',
      USHER_CONFIG: configPath,
      USHER_DATA_DIR: join(dir, 'data'),
      USHER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      CAL_API_URL: sandbox.url,
      CAL_WEBHOOK_SECRET: TEST_SECRET,
      USHER_PUBLIC_URL: 'https://usher.example',
    };
    const usher = (key: string, ...args: string[]) =>
      run(process.execPath, [bin, ...args, '--json'], { env: { ...base, CAL_API_KEY: key } }).then(
        (r) => ({ code: 0, checks: JSON.parse(r.stdout) as { check: string; ok: boolean; detail: string; changed?: boolean }[] }),
        (e: { code: number; stdout: string }) => ({
          code: e.code,
          checks: JSON.parse(e.stdout) as { check: string; ok: boolean; detail: string; changed?: boolean }[],
        }),
      );
    const byName = <T extends { check: string }>(checks: T[]) => Object.fromEntries(checks.map((c) => [c.check, c]));
    try {
      await run(process.execPath, [bin, 'migrate'], { env: { ...base, CAL_API_KEY: 'x' } });
      // Dr Turing's own key, no organisation configured: a user's webhook would hear only his bookings.
      const doctor = await usher('cal_sandbox_alan_key', 'doctor');
      expect(doctor.code).toBe(1);
      expect(byName(doctor.checks)).toMatchObject({
        'Cal.com API key': { ok: true, detail: 'belongs to alan (alan@clinic.example), organisation 1' },
        organisation: {
          ok: false,
          detail: expect.stringContaining("cal.organizationId is not set: Usher's webhook and reconciler see only alan's bookings"),
        },
        'webhook subscription': { ok: false, detail: 'none reaches https://usher.example/webhooks/cal: usher connect creates it' },
        'event types': { ok: true, unsure: true, detail: expect.stringMatching(/^7 belong to other members of organisation 1/) },
        store: { ok: true },
        'last webhook': { ok: false },
      });
      expect(sandbox.state.webhooks.size, 'doctor changes nothing').toBe(0);

      // With the organisation configured, his key cannot manage its subscriptions: refused, and why.
      writeFileSync(configPath, `cal: { organizationId: 1 }\n${readFileSync(configPath, 'utf8')}`);
      const refused = await usher('cal_sandbox_alan_key', 'connect');
      expect(refused.code).toBe(1);
      expect(byName(refused.checks)).toMatchObject({
        organisation: { ok: true },
        'webhook subscription': {
          ok: false,
          detail: expect.stringContaining('HTTP 403: You are not an admin or owner of this organization'),
        },
      });
      expect(sandbox.state.webhooks.size).toBe(0);

      // The organisation admin's key: the organisation's subscription is made, which hears every doctor.
      const connected = await usher('cal_sandbox_demo_key', 'connect');
      expect(connected.code).toBe(0);
      expect(byName(connected.checks)['webhook subscription']).toMatchObject({ ok: true, changed: true });
      const hook = [...sandbox.state.webhooks.values()][0]!;
      expect(hook).toMatchObject({
        owner: { orgId: 1 },
        subscriberUrl: 'https://usher.example/webhooks/cal',
        active: true,
        secret: TEST_SECRET,
      });
      expect(hook.triggers).toEqual(
        expect.arrayContaining(['BOOKING_CREATED', 'BOOKING_REQUESTED', 'BOOKING_CANCELLED', 'BOOKING_RESCHEDULED', 'BOOKING_REASSIGNED']),
      );

      // Someone switches it off and drops a trigger in Cal.com: doctor says so, connect puts it right.
      hook.active = false;
      hook.triggers = hook.triggers.filter((t) => t !== 'BOOKING_CANCELLED');
      const admin = await usher('cal_sandbox_demo_key', 'doctor');
      expect(byName(admin.checks)['webhook subscription']).toMatchObject({
        ok: false,
        detail: expect.stringContaining('it is switched off; it lacks BOOKING_CANCELLED'),
      });
      const fixed = await usher('cal_sandbox_demo_key', 'connect');
      expect(fixed.code).toBe(0);
      expect(byName(fixed.checks)['webhook subscription']).toMatchObject({ ok: true, changed: true });
      expect(hook).toMatchObject({ active: true, triggers: expect.arrayContaining(['BOOKING_CANCELLED']) });
      const again = await usher('cal_sandbox_demo_key', 'connect');
      expect(byName(again.checks)['webhook subscription']).toMatchObject({
        ok: true,
        detail: expect.stringContaining('the secret matches'),
      });
      expect(byName(again.checks)['webhook subscription']?.changed).toBeUndefined();
      expect(sandbox.state.webhooks.size).toBe(1);
    } finally {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
