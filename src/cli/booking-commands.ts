import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { checkoutSchema } from '../bookings/checkout.ts';
import { type CommandContext, dateOrTime, examples, isoTime, wholeNumber } from './command-context.ts';

/** `usher slots` and `usher book`: a custom checkout, through a running Usher or straight to Cal.com with the store. */
export function registerBookingCommands(program: Command, ctx: CommandContext): void {
  program
    .command('slots')
    .description('free slots of an event type in Cal.com')
    .requiredOption('--event-type <id>', "Cal.com's event type id", wholeNumber(1, Number.MAX_SAFE_INTEGER))
    .requiredOption('--from <date>', 'first day (YYYY-MM-DD) or time', dateOrTime)
    .requiredOption('--to <date>', 'last day (YYYY-MM-DD) or time', dateOrTime)
    .option('--time-zone <zone>', 'IANA zone of the days (default: the clinic’s)')
    .addHelpText('after', examples('usher slots --event-type 7 --from 2026-12-01 --to 2026-12-07'))
    .action(async (o: { eventType: number; from: string; to: string; timeZone?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      if (Date.parse(o.to) < Date.parse(o.from)) cmd.error('error: --to must not be before --from', { exitCode: 2 });
      const timeZone = o.timeZone ?? ctx.config().timeZone;
      // Cal.com's rate budget lives in the store, shared with every Usher process: a first command creates it.
      const slots = await ctx.withOperations((ops) => ops.slots({ eventTypeId: o.eventType, from: o.from, to: o.to, timeZone }));
      if (out.json) return out.record(slots);
      const days = Object.entries(slots).map(([day, list]) => ({ day, times: list.map((s) => out.time(s.start).slice(11)).join(' ') }));
      out.table(
        days,
        [
          { header: 'DAY', value: (d) => d.day },
          { header: 'FREE', value: (d) => d.times },
        ],
        'no free slots in that range',
      );
    });

  program
    .command('book')
    .description('book in Cal.com once per idempotency key: repeat the command with the printed key and no second booking is made')
    .requiredOption('--event-type <id>', "Cal.com's event type id", wholeNumber(1, Number.MAX_SAFE_INTEGER))
    .requiredOption('--start <time>', 'ISO time', isoTime)
    .requiredOption('--name <name>', "the attendee's name")
    .requiredOption('--email <email>', "the attendee's e-mail")
    .option('--time-zone <zone>', "the attendee's IANA zone (default: the clinic's)")
    .option('--meta <key=value>', 'metadata for the booking (repeat it)', (v: string, all: string[] = []) => [...all, v])
    .option('--idempotency-key <key>', 'the key of an earlier try (8–200 characters)')
    .addHelpText(
      'after',
      examples('usher book --event-type 7 --start 2026-12-01T10:00:00Z --name "Pat Doe" --email pat@example.com --meta plan=gold'),
    )
    .action(
      async (
        o: { eventType: number; start: string; name: string; email: string; timeZone?: string; meta?: string[]; idempotencyKey?: string },
        cmd: Command,
      ) => {
        const out = ctx.output(cmd);
        const metadata: Record<string, string> = {};
        for (const pair of o.meta ?? []) {
          const eq = pair.indexOf('=');
          if (eq <= 0) cmd.error(`error: --meta "${pair}": expected key=value`, { exitCode: 2 });
          metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        const checked = checkoutSchema.safeParse({
          eventTypeId: o.eventType,
          start: o.start,
          attendee: { name: o.name, email: o.email, timeZone: o.timeZone ?? ctx.config().timeZone },
          ...(Object.keys(metadata).length ? { metadata } : {}),
        });
        if (!checked.success)
          cmd.error(`error: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { exitCode: 2 });
        const key = o.idempotencyKey ?? `cli-${randomUUID()}`;
        process.stderr.write(`idempotency key: ${key} (repeat with --idempotency-key ${key} to retry safely)\n`);
        out.record(await ctx.withOperations((ops) => ops.book(key, checked.data!)));
      },
    );
}
