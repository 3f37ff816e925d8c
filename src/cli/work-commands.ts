import { type Command, Option } from 'commander';
import { systemClock } from '../clock.ts';
import { type Config, loadConfig } from '../config.ts';
import { formatFaults } from '../config-faults.ts';
import { UsherError } from '../errors.ts';
import { INBOX_STATES, JOB_STATES, type Operations } from '../operations/operations.ts';
import type { PresentedEvent, PresentedJob } from '../operations/present-work.ts';
import { migrate } from '../store/migrate.ts';
import { withLocalStore } from './cli-support.ts';
import { type CommandContext, examples, wholeNumber } from './command-context.ts';
import { type Column, type Output, stateColour } from './output.ts';

const eventColumns = (out: Output): Column<PresentedEvent>[] => [
  { header: 'ID', value: (e) => e.id },
  { header: 'TRIGGER', value: (e) => e.trigger },
  { header: 'BOOKING', value: (e) => e.bookingUid, max: 24 },
  { header: 'STATE', value: (e) => e.state, colour: stateColour },
  { header: 'TRIES', value: (e) => `${e.attempts}/${e.maxAttempts}` },
  { header: 'RECEIVED', value: (e) => out.time(e.receivedAt) },
  { header: 'LAST ERROR', value: (e) => e.lastError, max: 60 },
];
const jobColumns = (out: Output): Column<PresentedJob>[] => [
  { header: 'ID', value: (j) => j.id },
  { header: 'KIND', value: (j) => j.kind },
  { header: 'BOOKING', value: (j) => j.bookingUid, max: 24 },
  { header: 'STATE', value: (j) => j.state, colour: stateColour },
  { header: 'TRIES', value: (j) => `${j.attempts}/${j.maxAttempts}` },
  { header: 'RUNS AT', value: (j) => out.time(j.runAt) },
  { header: 'LAST ERROR', value: (j) => j.lastError, max: 60 },
];

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

/** What arrived and what Usher did with it; the store's own care (migrate, backup, restore, config). */
export function registerWorkCommands(program: Command, ctx: CommandContext): void {
  const listCommand = <T>(
    name: 'events' | 'jobs',
    o: {
      description: string;
      states: readonly [string, ...string[]];
      examples: string[];
      list: (ops: Operations, q: { state?: string | undefined; bookingUid?: string | undefined; limit: number }) => Promise<T[]>;
      columns: (out: Output) => Column<T>[];
    },
  ) =>
    program
      .command(name)
      .description(o.description)
      .addOption(new Option('--state <state>', `only ${name} in this state`).choices(o.states))
      .option('--booking <uid>', `only this booking's ${name}`)
      .option('--limit <n>', 'at most this many (1–1000)', wholeNumber(1, 1000), 50)
      .addHelpText('after', examples(...o.examples))
      .action(async (q: { state?: string; booking?: string; limit: number }, cmd: Command) => {
        const out = ctx.output(cmd);
        const rows = await ctx.withOperations((ops) => o.list(ops, { state: q.state, bookingUid: q.booking, limit: q.limit }), {
          migrate: false,
          create: false,
        });
        out.table(rows, o.columns(out), q.state ? `no ${q.state} ${name}` : `no ${name} yet`);
      });
  listCommand('events', {
    description: 'inbox events from Cal.com, newest first',
    states: INBOX_STATES,
    examples: ['usher events --state dead', 'usher events --booking bk_123 --json'],
    list: (ops, q) => ops.listEvents(q),
    columns: eventColumns,
  });
  listCommand('jobs', {
    description: 'outbox jobs: calls to Cal.com and automation deliveries',
    states: JOB_STATES,
    examples: ['usher jobs --state dead', 'usher jobs --booking bk_123'],
    list: (ops, q) => ops.listJobs(q),
    columns: jobColumns,
  });

  program
    .command('replay')
    .description('run dead-lettered or unprocessable events (evt_N) and dead jobs (job_N) again')
    .argument('[refs...]', 'evt_N or job_N, as events and jobs list them')
    .option('--dead', 'every dead event and dead job (up to --limit of each)')
    .option('--limit <n>', 'with --dead: at most this many of each (1–1000)', wholeNumber(1, 1000), 100)
    .addHelpText('after', examples('usher replay evt_12', 'usher replay job_7 job_8', 'usher replay --dead'))
    .action(async (refs: string[], o: { dead?: boolean; limit: number }, cmd: Command) => {
      if (!o.dead && refs.length === 0) cmd.error('error: name what to replay (evt_N, job_N) or use --dead', { exitCode: 2 });
      if (o.dead && refs.length > 0) cmd.error('error: either refs or --dead, not both', { exitCode: 2 });
      const out = ctx.output(cmd);
      const replayed = await ctx.withOperations(async (ops) => {
        const all = o.dead
          ? [
              ...(await ops.listEvents({ state: 'dead', limit: o.limit })).map((e) => e.id),
              ...(await ops.listJobs({ state: 'dead', limit: o.limit })).map((j) => j.id),
            ]
          : refs;
        const progress = out.progress('replaying', all.length);
        const done: (PresentedEvent | PresentedJob)[] = [];
        try {
          for (const ref of all) {
            done.push(await ops.replay(ref));
            progress.tick();
          }
        } finally {
          progress.done();
        }
        return done;
      });
      if (out.json) return out.record({ replayed });
      out.say(replayed.length ? `replayed ${replayed.length}: ${replayed.map((r) => r.id).join(', ')}` : 'nothing dead to replay');
    });

  program
    .command('reconcile')
    .description("compare Cal.com's bookings with Usher's once and feed in what is missing")
    .addHelpText('after', examples('usher reconcile'))
    .action(async (_o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const result = await ctx.withOperations((ops) => out.while('reconciling with Cal.com…', ops.reconcile()));
      out.record(result);
    });

  program
    .command('migrate')
    .description("apply the store's migrations (usher serve also does at start)")
    .addHelpText('after', examples('usher migrate'))
    .action(async (_o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const cfg = ctx.config();
      if (cfg.adminUrl) throw new UsherError('BAD_REQUEST', 'usher migrate runs beside the store, not through USHER_ADMIN_URL');
      const result = await withLocalStore(cfg, async (db) => ({ applied: (await migrate(db)).applied, store: db.kind }), {
        migrate: false,
      });
      out.record(result);
    });

  program
    .command('backup')
    .description('a consistent copy of the whole store (gzip’d JSON lines), taken while Usher runs')
    .argument('<file>', 'where to write it (mode 0600)')
    .addHelpText('after', examples('usher backup usher-2026-12-01.jsonl.gz'))
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const cfg = ctx.config();
      const { openStore } = await import('../store/open-store.ts');
      const { backupStore } = await import('../store/backup.ts');
      const store = await openStore(cfg, 'read');
      try {
        out.record(await backupStore(store.url, file, systemClock.now()));
      } finally {
        await store.close();
      }
    });

  program
    .command('restore')
    .description('put a backup back, in one transaction (stop usher serve first)')
    .argument('<file>', 'a file written by usher backup')
    .option('--replace', 'empty a store that already holds events first')
    .addHelpText('after', examples('usher restore usher-2026-12-01.jsonl.gz', 'usher restore old.jsonl.gz --replace'))
    .action(async (file: string, o: { replace?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const cfg = ctx.config();
      if (!cfg.databaseUrl) {
        const { readLockOwner } = await import('../store/data-dir-lock.ts');
        const owner = readLockOwner(cfg.dataDir);
        if (owner)
          throw new UsherError('CONFLICT', `usher serve is running on ${cfg.dataDir} (process ${owner.pid}): stop it before restoring`);
      }
      const { restoreStore } = await import('../store/backup.ts');
      out.record(await withLocalStore(cfg, (db) => restoreStore(db, file, { replace: o.replace ?? false })));
    });

  const configCommand = program.command('config').description('the configuration');
  configCommand
    .command('check')
    .description('check the configuration (FILE, or USHER_CONFIG, and the environment): resolved with secrets masked, or every fault')
    .argument('[file]', 'a YAML file (default: USHER_CONFIG, or ./usher.config.yaml)')
    .addHelpText('after', examples('usher config check', 'usher config check /etc/usher/usher.config.yaml --json'))
    .action(async (file: string | undefined, _o: unknown, cmd: Command) => {
      const result = loadConfig(file ? { ...ctx.env, USHER_CONFIG: file } : ctx.env);
      if (!result.ok) throw new UsherError('CONFIG_INVALID', formatFaults(result.faults));
      const out = ctx.output(cmd);
      out.record(presentConfig(result.config));
    });
}
