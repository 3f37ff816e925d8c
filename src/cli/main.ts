import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, type Config, type Env } from '../config.ts';
import { describeError, isUsherError, UsherError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { config, print, withStore } from './cli-support.ts';
import { runGateCommand, GATE_HELP } from './gate-commands.ts';
import { BOOKING_HELP } from './booking-help.ts';
import { replay } from '../jobs/replay.ts';
import { listInboxEvents, type InboxState } from '../store/inbox.ts';
import { listJobs, type JobState } from '../store/jobs.ts';
import { migrate } from '../store/migrate.ts';
import { presentEvent, presentJob } from '../http/admin-routes.ts';
import { systemClock } from '../clock.ts';
import { formatFaults } from '../config-faults.ts';
// The server, the demo, the sandbox and the Cal.com client load only for the commands that use
// them (import(…) below): a command such as `usher events` starts in a fraction of the time.

const HELP = `usher — the back office beside Cal.com

usage: usher <command> [options]

  serve                 run the webhook receiver, worker and admin API
  demo                  the demo: the sandbox Cal.com, simulated patients and Usher, local secrets
  start                 what \`npm start\` runs: with CAL_API_KEY, serve; without, the demo
                        (sandbox Cal.com + simulated patients + usher, local secrets)
  sandbox [--port P] [--seed F] [--state FILE] [--drop-rate R] [--duplicate-rate R] [--delay-ms MS]
                        run the Cal.com sandbox alone (default port 3100, the demo clinic);
                        --state keeps bookings and subscriptions in a JSON file across runs
  trigger <TRIGGER> [--to URL]
                        send one signed, realistic Cal.com webhook (default to this usher)
  reconcile             compare Cal.com's bookings with Usher's once and feed what is missing
  config check [FILE]   check the configuration (FILE, or USHER_CONFIG, and the environment):
                        prints it resolved, secrets masked (exit 0), or every fault (exit 2)
  backup FILE           a consistent copy of the whole store (gzip'd JSON lines), taken while Usher runs
  restore FILE [--replace]
                        put a backup back, in one transaction (stop usher serve first; --replace
                        empties a store that already holds events)
  migrate               apply database migrations
  replay <evt_N|job_N>  re-run a dead-lettered event or job
  events [--state S]    list inbox events (pending, done, ignored, unprocessable, dead)
  jobs [--state S]      list outbox jobs (pending, running, done, dead, superseded)
${GATE_HELP.slice(1)}
${BOOKING_HELP.slice(1)}

Configuration comes from the environment and USHER_CONFIG (see README.md).`;

/** A secret as `usher config check` shows it: that it is set, never what it is. */
const masked = (secret: string | undefined) => (secret ? `set (${secret.length} characters, not shown)` : 'not set');

/** The configuration as Usher will run it: the file's settings with defaults, and what came from the environment. */
function presentConfig(c: Config) {
  const databaseUrl = c.databaseUrl ? c.databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@') : undefined;
  return {
    configFile: c.configPath,
    environment: {
      PORT: c.port,
      HOST: c.host,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { USHER_DATA_DIR: c.dataDir }),
      CAL_API_URL: c.cal.apiUrl,
      CAL_API_KEY: masked(c.cal.apiKey),
      CAL_WEBHOOK_SECRET: c.cal.allowUnsignedWebhooks
        ? 'unsigned webhooks allowed (USHER_ALLOW_UNSIGNED_WEBHOOKS)'
        : masked(c.cal.webhookSecret),
      USHER_ADMIN_TOKEN: masked(c.adminToken),
      USHER_TRUST_PROXY: c.trustProxy === false ? 'false' : c.trustProxy.join(', '),
      LOG_LEVEL: c.logLevel,
    },
    // As written, with every default filled in; ${VAR} references to secrets stay unresolved.
    settings: c.file,
  };
}

async function serve(cfg: Config): Promise<void> {
  const log = createLogger(cfg.logLevel);
  const { startUsher } = await import('../main.ts');
  const usher = await startUsher(cfg, { log });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: no new work, finishing what is in hand');
    usher.close().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const INBOX_STATES: readonly InboxState[] = ['pending', 'running', 'done', 'ignored', 'unprocessable', 'dead'];
const JOB_STATES: readonly JobState[] = ['pending', 'running', 'done', 'dead', 'superseded'];

/** A usage fault: said plainly, exit 2, before any work (no store opened, nothing created). */
function usage(message: string): never {
  throw new UsherError('BAD_REQUEST', message);
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) usage(`--${name} must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

export async function run(argv: string[], env: Env): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`usher ${pkg.version}\n`);
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        limit: { type: 'string' },
        port: { type: 'string' },
        seed: { type: 'string' },
        to: { type: 'string' },
        state: { type: 'string' },
        'drop-rate': { type: 'string' },
        'duplicate-rate': { type: 'string' },
        'delay-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        search: { type: 'string' },
        name: { type: 'string' },
        active: { type: 'string' },
        until: { type: 'string' },
        reason: { type: 'string' },
        expires: { type: 'string' },
        note: { type: 'string' },
        'no-charge': { type: 'boolean' },
        'event-type': { type: 'string' },
        from: { type: 'string' },
        'time-zone': { type: 'string' },
        start: { type: 'string' },
        email: { type: 'string' },
        meta: { type: 'string', multiple: true },
        'idempotency-key': { type: 'string' },
        replace: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // An unknown flag or a flag without its value: name it, and where to look.
    usage(
      `${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')} (usher help lists the commands and their options)`,
    );
  }
  const { values, positionals } = parsed;
  if (!command || command === 'help' || values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const limit = Number(values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) usage(`--limit must be a whole number from 1 to 1000 (got "${values.limit}")`);
  switch (command) {
    case 'serve':
      return serve(config(env, true));
    case 'start':
      return (await import('./demo.ts')).runStart(env);
    case 'demo':
      // Always the sandbox, never a real Cal.com account, whatever CAL_API_KEY says.
      return (await import('./demo.ts')).runStart({ ...env, CAL_API_KEY: '' });
    case 'sandbox': {
      const { Sandbox } = await import('../sandbox/sandbox-server.ts');
      const { loadSeed } = await import('../sandbox/load-seed.ts');
      const sandbox = new Sandbox({ seed: loadSeed(values.seed) });
      if (values.state && existsSync(values.state)) sandbox.state.restore(JSON.parse(readFileSync(values.state, 'utf8')));
      sandbox.sender.faults = {
        dropRate: Number(values['drop-rate'] ?? 0),
        duplicateRate: Number(values['duplicate-rate'] ?? 0),
        delayMs: Number(values['delay-ms'] ?? 0),
      };
      const url = await sandbox.listen(Number(values.port ?? 3100));
      process.stdout.write(
        `sandbox Cal.com at ${url} (API keys: ${[...sandbox.state.apiKeys.keys()].join(', ')}; faults: PUT ${url}/_sandbox/faults)\n`,
      );
      const stop = () =>
        void sandbox.close().then(() => {
          if (values.state) writeFileSync(values.state, JSON.stringify(sandbox.state, null, 2));
          process.exit(0);
        });
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      return;
    }
    case 'trigger': {
      const { sendTrigger, TRIGGER_NAMES } = await import('./send-trigger.ts');
      const { devEnvironment } = await import('./dev-environment.ts');
      const trigger = positionals[0];
      if (!trigger) throw new UsherError('BAD_REQUEST', `usage: usher trigger <TRIGGER> [--to URL]; one of ${TRIGGER_NAMES.join(', ')}`);
      const cfg = config(await devEnvironment(env), false);
      const to = values.to ?? `http://${cfg.host}:${cfg.port}/webhooks/cal`;
      const sent = await sendTrigger(trigger, to, cfg.cal.webhookSecret);
      print(sent);
      return;
    }
    case 'reconcile': {
      const cfg = config(env, false);
      const { reconcile } = await import('../cal/reconciler.ts');
      const { reconcilerStore } = await import('../store/reconciler-store.ts');
      const { createCalClient } = await import('../main.ts');
      const result = await withStore(
        cfg,
        async (db) =>
          reconcile(
            createCalClient(cfg, db, systemClock),
            reconcilerStore(db, cfg.worker.maxAttempts, () => {}),
            () => systemClock.now(),
          ),
        (admin) => admin.call('POST', '/api/reconcile'),
      );
      print(result);
      return;
    }
    case 'config': {
      if (positionals[0] !== 'check') throw new UsherError('BAD_REQUEST', 'usage: usher config check [FILE]');
      const file = positionals[1];
      const result = loadConfig(file ? { ...env, USHER_CONFIG: file } : env);
      if (!result.ok) throw new UsherError('CONFIG_INVALID', formatFaults(result.faults));
      print(presentConfig(result.config));
      return;
    }
    case 'backup':
    case 'restore': {
      const file = positionals[0];
      if (!file) throw new UsherError('BAD_REQUEST', `usage: usher ${command} FILE`);
      const cfg = config(env, false);
      const { openStore } = await import('../store/open-store.ts');
      const { backupStore, restoreStore } = await import('../store/backup.ts');
      if (command === 'restore' && !cfg.databaseUrl) {
        const { readLockOwner } = await import('../store/data-dir-lock.ts');
        const owner = readLockOwner(cfg.dataDir);
        if (owner)
          throw new UsherError('CONFLICT', `usher serve is running on ${cfg.dataDir} (process ${owner.pid}): stop it before restoring`);
      }
      const store = await openStore(cfg, command === 'backup' ? 'read' : 'command');
      try {
        if (command === 'backup') print(await backupStore(store.url, file, systemClock.now()));
        else {
          await migrate(store.db);
          print(await restoreStore(store.db, file, { replace: values.replace ?? false }));
        }
      } finally {
        await store.close();
      }
      return;
    }
    case 'migrate': {
      const cfg = config(env, false);
      await withStore(
        cfg,
        async (db) => {
          const result = await migrate(db);
          print({ applied: result.applied, store: db.kind });
        },
        async (admin) => {
          // A running server applied every migration it knows at start.
          print({
            applied: [],
            note: 'usher serve holds the store and applied migrations at start',
            ready: await admin.call('GET', '/readyz').catch((e) => describeError(e)),
          });
        },
        { migrate: false },
      );
      return;
    }
    case 'replay': {
      const ref = positionals[0];
      if (!ref) throw new UsherError('BAD_REQUEST', 'usage: usher replay <evt_N|job_N>');
      const cfg = config(env, false);
      const result = await withStore(
        cfg,
        async (db) => {
          const r = await replay(db, ref, new Date());
          return 'event' in r ? presentEvent(r.event) : presentJob(r.job);
        },
        (admin) => admin.call('POST', `/api/replay/${encodeURIComponent(ref)}`),
      );
      print({ replayed: result });
      return;
    }
    case 'events': {
      const cfg = config(env, false);
      const state = oneOf('state', values.state, INBOX_STATES);
      const result = await withStore(
        cfg,
        async (db) => (await listInboxEvents(db, { ...(state ? { state } : {}), limit })).map((e) => presentEvent(e)),
        (admin) => admin.call('GET', `/api/events?limit=${limit}${state ? `&state=${state}` : ''}`),
        { migrate: false, create: false },
      );
      print(result);
      return;
    }
    case 'jobs': {
      const cfg = config(env, false);
      const state = oneOf('state', values.state, JOB_STATES);
      const result = await withStore(
        cfg,
        async (db) => (await listJobs(db, { ...(state ? { state } : {}), limit })).map(presentJob),
        (admin) => admin.call('GET', `/api/jobs?limit=${limit}${state ? `&state=${state}` : ''}`),
        { migrate: false, create: false },
      );
      print(result);
      return;
    }
    default:
      if (
        ['members', 'credits', 'gate', 'booking'].includes(command) &&
        (await runGateCommand(config(env, false), command, positionals, values))
      )
        return;
      if (
        ['slots', 'book'].includes(command) &&
        (await (await import('./booking-commands.ts')).runBookingCommand(config(env, false), command, values))
      )
        return;
      throw new UsherError('BAD_REQUEST', `unknown command "${command}" (usher help lists them)`);
  }
}

run(process.argv.slice(2), process.env).catch((error: unknown) => {
  process.stderr.write(`usher: ${isUsherError(error) ? error.message : describeError(error)}\n`);
  if (isUsherError(error) && Array.isArray(error.detail)) process.stderr.write(error.detail.map((f) => `  - ${String(f)}\n`).join(''));
  // 2: the command or its configuration is wrong (nothing was done); 1: it failed while working.
  process.exit(isUsherError(error) && (error.httpStatus < 500 || error.code === 'CONFIG_INVALID') ? 2 : 1);
});
