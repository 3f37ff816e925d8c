import { type Command, InvalidArgumentError, Option } from 'commander';
import type { PresentedFeed } from '../insights/calendar-feed.ts';
import { INSIGHTS_TABLES, type InsightsTable, insightsCsv } from '../insights/insights-report.ts';
import type { RoomUse, WhatIfQuery } from '../insights/what-if.ts';
import { type CommandContext, examples, wholeNumber } from './command-context.ts';
import type { Output } from './output.ts';

const collect = (value: string, previous: string[]) => [...previous, value];
const percent = (u: number | null) => (u === null ? '—' : `${Math.round(u * 100)}%`);
const day = (value: string) => {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  throw new InvalidArgumentError('must be a date, YYYY-MM-DD');
};

/** `--add "4C ecg,xray"`: a name, then its equipment. */
function addedRoom(spec: string): NonNullable<WhatIfQuery['add']>[number] {
  const [name, equipment = ''] = spec.trim().split(/\s+/, 2);
  if (!name) throw new InvalidArgumentError('give a room name, then its equipment: "4C ecg,xray"');
  return { name, equipment: equipment.split(',').filter(Boolean) };
}

/** `--cleaning 15` (every room) or `--cleaning 3A=15`; `--open-hours 3A=07:00-19:00` or `always`. */
function roomChange(spec: string, field: 'cleaningMinutes' | 'openHours'): NonNullable<WhatIfQuery['change']>[number] {
  const at = spec.lastIndexOf('=');
  const room = at > 0 ? spec.slice(0, at) : '*';
  const value = at > 0 ? spec.slice(at + 1) : spec;
  if (field === 'cleaningMinutes') {
    if (!/^\d+$/.test(value))
      throw new InvalidArgumentError(`--cleaning takes minutes, for every room ("15") or one ("3A=15"), not "${spec}"`);
    return { room, cleaningMinutes: Number(value) };
  }
  if (value === 'always') return { room, openHours: null };
  return { room, openHours: value };
}

function showUse(out: Output, recorded: RoomUse[], replayed: RoomUse[]): void {
  const names = [...new Set([...recorded.map((r) => r.room), ...replayed.map((r) => r.room)])].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  const was = new Map(recorded.map((r) => [r.room, r]));
  const now = new Map(replayed.map((r) => [r.room, r]));
  out.table(
    names,
    [
      { header: 'ROOM', value: (n) => n },
      { header: 'BOOKINGS (HAPPENED)', value: (n) => was.get(n)?.bookings ?? '—' },
      { header: 'USE', value: (n) => percent(was.get(n)?.utilisation ?? null) },
      { header: 'BOOKINGS (WHAT-IF)', value: (n) => now.get(n)?.bookings ?? 'removed' },
      { header: 'USE ', value: (n) => percent(now.get(n)?.utilisation ?? null) },
    ],
    'no rooms',
  );
}

/** Insights, what-if and calendar feeds: what the data tells the people who run the clinic. */
export function registerInsightsCommands(program: Command, ctx: CommandContext): void {
  program
    .command('insights')
    .description('utilisation per room and period against opening hours, with gaps, no-shows, waits, moves and write-back delays')
    .option('--from <date>', 'first day (clinic time; default: four weeks before --to)', day)
    .option('--to <date>', 'last day, included (default: today)', day)
    .addOption(new Option('--grain <grain>', 'one row per').choices(['day', 'week', 'month']).default('week'))
    .addOption(new Option('--table <table>', 'which table').choices([...INSIGHTS_TABLES]).default('rooms'))
    .option('--csv', 'the table as CSV (for a spreadsheet)')
    .addHelpText(
      'after',
      examples(
        'usher insights',
        'usher insights --from 2026-11-01 --to 2026-11-30 --grain day --csv > november.csv',
        'usher insights --table doctors',
      ),
    )
    .action(
      async (o: { from?: string; to?: string; grain: 'day' | 'week' | 'month'; table: InsightsTable; csv?: boolean }, cmd: Command) => {
        const out = ctx.output(cmd);
        const report = await ctx.withOperations(
          (ops) => ops.insights({ grain: o.grain, ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) }),
          {
            migrate: false,
            create: false,
          },
        );
        if (o.csv) {
          process.stdout.write(insightsCsv(report, o.table));
          return;
        }
        if (out.json) return out.record(report);
        out.say(
          `${report.from} to ${report.to}, by ${report.grain} (${report.timeZone}); gaps of ${report.minimumGapMinutes} min or more count as bookable.`,
        );
        if (o.table === 'doctors')
          return out.table(
            report.doctors,
            [
              { header: 'PERIOD', value: (r) => r.period },
              { header: 'DOCTOR', value: (r) => r.doctor },
              { header: 'BOOKINGS', value: (r) => r.bookings },
              { header: 'HOURS', value: (r) => (r.bookedMinutes / 60).toFixed(1) },
              { header: 'ROOMS', value: (r) => r.rooms },
              { header: 'NO-SHOWS', value: (r) => r.noShows },
              { header: 'WAITED', value: (r) => r.waited },
            ],
            'no bookings in rooms in this period',
          );
        if (o.table === 'write-back')
          return out.table(
            report.writeBack,
            [
              { header: 'PERIOD', value: (r) => r.period },
              { header: 'ROOMS WRITTEN', value: (r) => r.writes },
              { header: 'RETRIED', value: (r) => r.retried },
              { header: 'P50 S', value: (r) => r.p50Seconds },
              { header: 'P95 S', value: (r) => r.p95Seconds },
              { header: 'MAX S', value: (r) => r.maxSeconds },
            ],
            'no room written to Cal.com in this period',
          );
        if (o.table === 'without-room')
          return out.table(
            report.withoutRoom,
            [
              { header: 'PERIOD', value: (r) => r.period },
              { header: 'STILL WITHOUT A ROOM', value: (r) => r.bookings },
            ],
            'every booking that needed a room has one',
          );
        const rows = o.table === 'clinic' ? report.clinic.map((r) => ({ ...r, room: 'all' })) : report.rooms;
        out.table(
          rows,
          [
            { header: 'PERIOD', value: (r) => r.period },
            { header: 'ROOM', value: (r) => r.room },
            { header: 'USE', value: (r) => percent(r.utilisation) },
            { header: 'BOOKED H', value: (r) => (r.bookedMinutes / 60).toFixed(1) },
            { header: 'OPEN H', value: (r) => (r.openMinutes / 60).toFixed(1) },
            { header: 'BOOKINGS', value: (r) => r.bookings },
            { header: 'CLEANING H', value: (r) => (r.cleaningMinutes / 60).toFixed(1) },
            { header: 'GAPS', value: (r) => (r.idleGaps ? `${r.idleGaps} (${(r.idleGapMinutes / 60).toFixed(1)} h)` : '') },
            { header: 'NO-SHOWS', value: (r) => r.noShows || '' },
            { header: 'WAITED', value: (r) => (r.waited ? `${r.waited} (max ${r.waitMinutesMax} min)` : '') },
            { header: 'MOVED OUT', value: (r) => r.movesOut || '' },
          ],
          'no rooms',
        );
      },
    );

  program
    .command('what-if')
    .description('replay a past period with rooms taken away, added or changed, beside what really happened (changes nothing)')
    .requiredOption('--from <date>', 'first day (clinic time)', day)
    .requiredOption('--to <date>', 'last day, included', day)
    .option('--without <room>', 'take a room away (repeat for more)', collect, [])
    .option('--add <room>', 'add a room: its name, then its equipment, e.g. "4C ecg,xray" (repeat for more)', collect, [])
    .option('--cleaning <minutes>', 'cleaning minutes for every room ("15") or one ("3A=15")', collect, [])
    .option('--open-hours <hours>', 'opening hours for every room or one: "3A=07:00-19:00", "always"', collect, [])
    .addHelpText(
      'after',
      examples(
        'usher what-if --from 2026-11-02 --to 2026-11-08 --without 3A',
        'usher what-if --from 2026-11-02 --to 2026-11-08 --add "4C ecg,xray" --cleaning 3A=20',
      ),
    )
    .action(
      async (o: { from: string; to: string; without: string[]; add: string[]; cleaning: string[]; openHours: string[] }, cmd: Command) => {
        const out = ctx.output(cmd);
        const query: WhatIfQuery = {
          from: o.from,
          to: o.to,
          without: o.without,
          add: o.add.map(addedRoom),
          change: [...o.cleaning.map((c) => roomChange(c, 'cleaningMinutes')), ...o.openHours.map((c) => roomChange(c, 'openHours'))],
        };
        let bar: ReturnType<Output['progress']> | undefined;
        let shown = 0;
        const result = await ctx.withOperations(
          (ops) =>
            ops.whatIf(query, (done, total) => {
              bar ??= out.progress('replaying', total);
              for (; shown < done; shown++) bar.tick();
            }),
          { migrate: false, create: false },
        );
        bar?.done();
        if (out.json) return out.record(result);
        const r = result;
        out.say(
          `${r.from} to ${r.to}: ${r.bookings} booking${r.bookings === 1 ? '' : 's'} that needed a room (replayed in ${r.seconds} s).`,
        );
        out.say(`                 happened   what-if`);
        out.say(`with a room      ${String(r.recorded.withRoom).padEnd(9)}  ${r.whatIf.withRoom}`);
        out.say(`without a room   ${String(r.recorded.withoutRoom).padEnd(9)}  ${r.whatIf.withoutRoom}`);
        out.say(`moved by plans   ${String(r.recorded.moves).padEnd(9)}  ${r.whatIf.moves}`);
        out.say(`waited for one   ${String(r.recorded.waited).padEnd(9)}  ${r.whatIf.waited}`);
        out.say(
          `In another room: ${r.differences.otherRoom}; lost their room: ${r.differences.lostRoom}; would have had one: ${r.differences.gainedRoom}.`,
        );
        if (r.whatIf.inexactPlans)
          out.say(`(${r.whatIf.inexactPlans} re-plan(s) ran out of time and took the quick plan, as the live service would.)`);
        showUse(out, r.recorded.perRoom, r.whatIf.perRoom);
      },
    );

  const calendars = program
    .command('calendars')
    .description('iCalendar feeds of a room or a doctor, for Google, Apple or Outlook calendars');
  calendars
    .command('list', { isDefault: true })
    .description('the feeds (never their secret URLs)')
    .option('--all', 'revoked ones too')
    .addHelpText('after', examples('usher calendars list', 'usher calendars list --all --json'))
    .action(async (o: { all?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const feeds = await ctx.withOperations((ops) => ops.listCalendarFeeds({ all: o.all ?? false }), { migrate: false, create: false });
      out.table<PresentedFeed>(
        feeds,
        [
          { header: 'ID', value: (f) => f.id },
          { header: 'FOR', value: (f) => `${f.kind} ${f.subject}` },
          { header: 'NAMES', value: (f) => (f.showNames ? 'full names' : 'initials') },
          { header: 'MADE', value: (f) => `${out.time(f.createdAt)} by ${f.createdBy}` },
          { header: 'REVOKED', value: (f) => (f.revokedAt ? out.time(f.revokedAt) : '') },
        ],
        'no calendar feeds (usher calendars add --room 3A)',
      );
    });
  calendars
    .command('add')
    .description('a new feed; its URL is shown once (only a hash of its secret is kept)')
    .option('--room <room>', 'the room’s bookings and blocks')
    .option('--doctor <email>', 'the doctor’s bookings, with their rooms')
    .option('--names', 'full names in the events (default: initials and appointment type)')
    .addHelpText('after', examples('usher calendars add --room 3A', 'usher calendars add --doctor dr.murray@clinic.example'))
    .action(async (o: { room?: string; doctor?: string; names?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const made = await ctx.withOperations((ops) =>
        ops.createCalendarFeed({
          ...(o.room ? { room: o.room } : {}),
          ...(o.doctor ? { doctor: o.doctor } : {}),
          ...(o.names ? { showNames: true } : {}),
        }),
      );
      const cfg = ctx.config();
      const base = cfg.publicUrl ?? cfg.adminUrl ?? `http://${cfg.host}:${cfg.port}`;
      const url = (made as { url?: string }).url ?? `${base}${made.path}`;
      if (out.json) return out.record({ ...made, url });
      out.say(`Feed ${made.feed.id} for ${made.feed.kind} ${made.feed.subject}. Subscribe to this URL (it is shown only now):`);
      out.say(`  ${url}`);
      if (!cfg.publicUrl) out.say('(Set USHER_PUBLIC_URL to the address calendars reach this Usher at.)');
    });
  calendars
    .command('revoke')
    .description('stop a feed: its URL answers nothing from now on')
    .argument('<id>', 'the feed number calendars list shows', wholeNumber(1, Number.MAX_SAFE_INTEGER))
    .addHelpText('after', examples('usher calendars revoke 3'))
    .action(async (id: number, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const feed = await ctx.withOperations((ops) => ops.revokeCalendarFeed(id));
      if (out.json) return out.record(feed);
      out.say(`Feed ${feed.id} (${feed.kind} ${feed.subject}) revoked.`);
    });
}
