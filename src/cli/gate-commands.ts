import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { UsherError } from '../errors.ts';
import type { LedgerEntry } from '../store/credits.ts';
import type { Member } from '../store/members.ts';
import { type CommandContext, dateOrTime, examples, wholeNumber } from './command-context.ts';
import type { Output } from './output.ts';

function history(out: Output, entries: readonly LedgerEntry[]) {
  out.table(
    entries,
    [
      { header: 'AT', value: (e) => out.time(e.at) },
      { header: 'KIND', value: (e) => e.kind },
      { header: 'AMOUNT', value: (e) => (e.amount > 0 ? `+${e.amount}` : e.amount) },
      { header: 'BOOKING', value: (e) => e.bookingUid, max: 24 },
      { header: 'REASON', value: (e) => e.reason, max: 40 },
      { header: 'BY', value: (e) => e.actor },
    ],
    'no ledger entries',
  );
}

const positive = wholeNumber(1, 100_000);

/** Members, credits, the gate's held bookings, and one booking's whole story. */
export function registerGateCommands(program: Command, ctx: CommandContext): void {
  const members = program.command('members').description('the club’s members, whose credits the gate spends');
  members
    .command('import')
    .description("add or update members from CSV; each row's credits becomes their balance (all rows or none)")
    .argument('<file>', 'email,name,credits[,expires] — header row optional (README "The gate")')
    .addHelpText('after', examples('usher members import members.csv'))
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      let csv: string;
      try {
        csv = readFileSync(file, 'utf8');
      } catch (error) {
        throw new UsherError('BAD_REQUEST', `cannot read ${file}: ${(error as Error).message}`);
      }
      const rows = csv.split('\n').filter((l) => l.trim()).length;
      const result = await ctx.withOperations((ops) => out.while(`importing ${rows} rows…`, ops.importMembers(csv)));
      if (out.json) return out.record(result);
      out.say(`${result.created} created, ${result.updated} updated, ${result.credited >= 0 ? '+' : ''}${result.credited} credits`);
    });
  members
    .command('list')
    .description('members by e-mail')
    .option('--search <text>', 'part of an e-mail or name')
    .option('--limit <n>', 'at most this many (1–1000)', wholeNumber(1, 1000), 100)
    .addHelpText('after', examples('usher members list --search lovelace'))
    .action(async (o: { search?: string; limit: number }, cmd: Command) => {
      const out = ctx.output(cmd);
      const list = await ctx.withOperations((ops) => ops.listMembers({ ...(o.search ? { search: o.search } : {}), limit: o.limit }), {
        migrate: false,
        create: false,
      });
      out.table<Member>(
        list,
        [
          { header: 'EMAIL', value: (m) => m.email },
          { header: 'NAME', value: (m) => m.name },
          { header: 'ACTIVE', value: (m) => (m.active ? 'yes' : 'no') },
          { header: 'UNTIL', value: (m) => m.membershipUntil },
        ],
        o.search ? `no member matches "${o.search}"` : 'no members yet (usher members import FILE)',
      );
    });
  members
    .command('set')
    .description('create or change a member')
    .argument('<email>')
    .option('--name <name>')
    .option('--active <yes-or-no>', 'true or false', (v: string) => {
      if (v !== 'true' && v !== 'false') throw new InvalidArgumentError('takes true or false');
      return v === 'true';
    })
    .option('--until <date>', 'the last day of membership, YYYY-MM-DD', (v: string) => {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new InvalidArgumentError('must be a date, YYYY-MM-DD');
      return v;
    })
    .addHelpText(
      'after',
      examples(
        'usher members set ann@club.example --name "Ann Smith" --until 2027-06-30',
        'usher members set ann@club.example --active false',
      ),
    )
    .action(async (email: string, o: { name?: string; active?: boolean; until?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const changes = {
        ...(o.name ? { name: o.name } : {}),
        ...(o.active !== undefined ? { active: o.active } : {}),
        ...(o.until ? { membershipUntil: o.until } : {}),
      };
      out.record(await ctx.withOperations((ops) => ops.setMember(email, changes)));
    });

  const credits = program.command('credits').description("a member's credits: grant, take back, balance, ledger");
  credits
    .command('grant')
    .description('grant credits to a member')
    .argument('<email>')
    .argument('<n>', 'how many (a whole number above 0)', positive)
    .option('--reason <text>', 'why, for the ledger')
    .option('--expires <date>', 'the last day they can be spent (YYYY-MM-DD, the clinic’s zone) or an ISO time', dateOrTime)
    .addHelpText('after', examples('usher credits grant ann@club.example 10 --reason "10-pack" --expires 2027-06-30'))
    .action(async (email: string, n: number, o: { reason?: string; expires?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      out.record(await ctx.withOperations((ops) => ops.adjustCredits(email, { amount: n, ...o })), `${email} now has`);
    });
  credits
    .command('take')
    .description('take spendable credits back (a correction), soonest-expiring first')
    .argument('<email>')
    .argument('<n>', 'how many (a whole number above 0)', positive)
    .option('--reason <text>', 'why, for the ledger')
    .addHelpText('after', examples('usher credits take ann@club.example 1 --reason "correction"'))
    .action(async (email: string, n: number, o: { reason?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      out.record(await ctx.withOperations((ops) => ops.adjustCredits(email, { amount: -n, ...o })), `${email} now has`);
    });
  credits
    .command('balance')
    .description('available, held, captured, forfeited and expired credits, with the lots and the latest entries')
    .argument('<email>')
    .addHelpText('after', examples('usher credits balance ann@club.example'))
    .action(async (email: string, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const account = await ctx.withOperations((ops) => ops.memberAccount(email, 5), { migrate: false, create: false });
      if (out.json) return out.record({ member: account.member, balance: account.balance, recent: account.history });
      const b = account.balance;
      out.say(`${account.member.email}${account.member.name ? ` (${account.member.name})` : ''}: ${b.available} available`);
      out.say(`  held ${b.held} · captured ${b.captured} · forfeited ${b.forfeited} · expired ${b.expired}`);
      if (b.lots.length) {
        out.say('');
        out.table(
          b.lots,
          [
            { header: 'LOT', value: (l) => l.id },
            { header: 'GRANTED', value: (l) => l.granted },
            { header: 'LEFT', value: (l) => l.remaining },
            { header: 'EXPIRES', value: (l) => out.time(l.expiresAt) || 'never' },
            { header: 'REASON', value: (l) => l.reason, max: 40 },
          ],
          '',
        );
      }
      out.say('');
      history(out, account.history);
    });
  credits
    .command('history')
    .description("the member's ledger, newest first")
    .argument('<email>')
    .option('--limit <n>', 'at most this many (1–1000)', wholeNumber(1, 1000), 20)
    .addHelpText('after', examples('usher credits history ann@club.example --limit 100'))
    .action(async (email: string, o: { limit: number }, cmd: Command) => {
      const out = ctx.output(cmd);
      const account = await ctx.withOperations((ops) => ops.memberAccount(email, o.limit), { migrate: false, create: false });
      history(out, account.history);
    });

  const gate = program.command('gate').description('bookings the gate left for a person');
  gate
    .command('held')
    .description('bookings waiting for a person to approve or decline')
    .addHelpText('after', examples('usher gate held'))
    .action(async (_o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const held = await ctx.withOperations((ops) => ops.heldBookings(), { migrate: false, create: false });
      out.table(
        held,
        [
          { header: 'BOOKING', value: (h) => h.bookingUid },
          { header: 'STARTS', value: (h) => out.time(h.start) },
          { header: 'MEMBER', value: (h) => h.memberEmail },
          { header: 'WHY', value: (h) => h.reasons.map((r) => r.code).join(', '), max: 50 },
        ],
        'nothing is held',
      );
    });
  gate
    .command('approve')
    .description('confirm a pending booking in Cal.com, taking its credits unless --no-charge')
    .argument('<uid>', 'the booking, as gate held lists it')
    .option('--no-charge', 'approve without taking credits')
    .option('--note <text>', 'for the decision log')
    .addHelpText('after', examples('usher gate approve bk_123', 'usher gate approve bk_123 --no-charge --note "first visit free"'))
    .action(async (uid: string, o: { charge: boolean; note?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      out.record(await ctx.withOperations((ops) => ops.approve(uid, { charge: o.charge, ...(o.note ? { note: o.note } : {}) })));
    });
  gate
    .command('decline')
    .description('decline a pending booking in Cal.com')
    .argument('<uid>', 'the booking, as gate held lists it')
    .requiredOption('--reason <text>', 'what the booker sees')
    .option('--note <text>', 'for the decision log')
    .addHelpText('after', examples('usher gate decline bk_123 --reason "Please renew your membership first"'))
    .action(async (uid: string, o: { reason: string; note?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      out.record(await ctx.withOperations((ops) => ops.decline(uid, { reason: o.reason, ...(o.note ? { note: o.note } : {}) })));
    });

  program
    .command('booking')
    .description("Usher's whole view of a booking: gate, room, credits, calls to Cal.com, events, what needs a person")
    .argument('<uid>')
    .addHelpText('after', examples('usher booking bk_123', 'usher booking bk_123 --json | jq .attention'))
    .action(async (uid: string, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      out.record(await ctx.withOperations((ops) => ops.booking(uid), { migrate: false, create: false }));
    });
}
