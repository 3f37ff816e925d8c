import type { Command } from 'commander';
import type { Check } from '../cal/cal-checks.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import { UsherError } from '../errors.ts';
import { withLocalStore } from './cli-support.ts';
import { type CommandContext, examples } from './command-context.ts';
import { colours, type Output } from './output.ts';

/** The event types the config names: the key must be able to act on their bookings. */
function configuredEventTypes(cfg: Config): number[] {
  return [...new Set([...Object.keys(cfg.eventTypes), ...Object.keys(cfg.gate.policies)].map(Number))]
    .filter(Number.isInteger)
    .sort((a, b) => a - b);
}

function show(out: Output, checks: readonly Check[]): void {
  out.table(
    checks,
    [
      {
        header: '',
        value: (c) => (!c.ok ? 'no' : c.unsure ? 'check' : c.changed ? 'fixed' : 'ok'),
        colour: (t) => (t === 'no' ? colours.red(t) : t === 'check' ? colours.yellow(t) : colours.green(t)),
      },
      { header: 'CHECK', value: (c) => c.check },
      { header: 'WHAT', value: (c) => c.detail },
    ],
    'nothing to check',
  );
}

async function calCheckList(cfg: Config, apply: boolean, db: Parameters<Parameters<typeof withLocalStore>[1]>[0]): Promise<Check[]> {
  const { calChecks } = await import('../cal/cal-checks.ts');
  const { createCalClient } = await import('../create-cal-client.ts');
  if (!cfg.cal.apiKey) return [{ check: 'Cal.com API key', ok: false, detail: 'CAL_API_KEY is not set' }];
  return calChecks(createCalClient(cfg, db, systemClock), {
    publicUrl: cfg.publicUrl,
    webhookSecret: cfg.cal.webhookSecret,
    eventTypeIds: configuredEventTypes(cfg),
    organizationId: cfg.cal.organizationId,
    apply,
  });
}

/** `usher connect` (make Cal.com right for Usher) and `usher doctor` (say what is right and what is not). */
export function registerDoctorCommands(program: Command, ctx: CommandContext): void {
  program
    .command('connect')
    .description("check the Cal.com key and make the webhook subscription right (this Usher's URL, the triggers Usher handles, the secret)")
    .addHelpText(
      'after',
      `${examples('CAL_API_KEY=cal_live_… CAL_WEBHOOK_SECRET=… USHER_PUBLIC_URL=https://usher.example usher connect')}
It changes only the webhook subscription, says what it changed, and exits 1 when the key cannot act
on the configured event types' bookings (they are another user's and the key is no organisation admin's).
`,
    )
    .action(async (_o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const cfg = ctx.config();
      if (cfg.adminUrl)
        throw new UsherError(
          'BAD_REQUEST',
          'usher connect runs beside the store (it spends the shared Cal.com budget), not through USHER_ADMIN_URL',
        );
      const checks = await withLocalStore(cfg, (db) => out.while('asking Cal.com…', calCheckList(cfg, true, db)));
      show(out, checks);
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });

  program
    .command('doctor')
    .description(
      'check everything Usher depends on, read-only: Cal.com (key, webhook, event types), the store, the clocks, the last webhook, failed work',
    )
    .addHelpText('after', examples('usher doctor', 'usher doctor --json'))
    .action(async (_o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const cfg = ctx.config();
      if (cfg.adminUrl) throw new UsherError('BAD_REQUEST', 'usher doctor runs beside the store, not through USHER_ADMIN_URL');
      const checks = await withLocalStore(
        cfg,
        async (db) => {
          const { storeHealth } = await import('../store/store-health.ts');
          const { pendingMigrations } = await import('../store/migrate.ts');
          const list: Check[] = [];
          const pending = await pendingMigrations(db);
          list.push({
            check: 'store',
            ok: pending.length === 0,
            detail: pending.length
              ? `migrations not applied: ${pending.join(', ')} — usher migrate (or start usher serve)`
              : `${db.kind}, every migration applied`,
          });
          const health = await storeHealth(db);
          const skewSeconds = Math.round((systemClock.now().getTime() - health.databaseNow.getTime()) / 1000);
          list.push({
            check: 'clocks',
            ok: Math.abs(skewSeconds) < 60,
            detail: `Usher's and the database server's clocks are ${Math.abs(skewSeconds)} s apart${Math.abs(skewSeconds) < 60 ? '' : ' — set up NTP; Usher uses its own clock throughout, but people compare what they see'}`,
          });
          const since = health.lastWebhookAt
            ? Math.round((systemClock.now().getTime() - health.lastWebhookAt.getTime()) / 60_000)
            : undefined;
          list.push({
            check: 'last webhook',
            ok: health.lastWebhookAt !== null,
            detail: health.lastWebhookAt
              ? `${since === 0 ? 'under a minute' : `${since} min`} ago (${health.lastWebhookAt.toISOString()})`
              : 'none yet — make a booking in Cal.com, or send one with usher trigger BOOKING_CREATED',
          });
          const failed = health.deadEvents + health.deadJobs + health.unprocessable;
          list.push({
            check: 'work',
            ok: failed === 0,
            detail: `${health.pendingEvents} event(s) waiting; ${health.deadEvents} dead and ${health.unprocessable} unprocessable event(s), ${health.deadJobs} dead job(s)${failed ? ' — usher events --state dead, usher jobs --state dead, then usher replay' : ''}`,
          });
          return [...(await out.while('asking Cal.com…', calCheckList(cfg, false, db))), ...list];
        },
        { migrate: false, create: false },
      );
      show(out, checks);
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}
