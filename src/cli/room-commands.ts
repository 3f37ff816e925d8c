import type { Command } from 'commander';
import type { PresentedReplan } from '../operations/present-replan.ts';
import type { RoomRecord } from '../store/rooms.ts';
import { type CommandContext, examples, isoTime, wholeNumber } from './command-context.ts';
import type { Output } from './output.ts';

const hhmm = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** What a change did to the plan: who moved where, and who is left without a room. */
function showPlan(out: Output, result: { plan: PresentedReplan } & Record<string, unknown>, done: string): void {
  if (out.json) {
    out.record(result);
    return;
  }
  const { plan } = result;
  out.say(`${done}; ${plan.movedCount === 0 ? 'no booking had to move' : `${plan.movedCount} booking(s) moved`}.`);
  if (plan.moves.length) {
    out.table(
      plan.moves,
      [
        { header: 'BOOKING', value: (m) => m.uid },
        { header: 'FROM', value: (m) => m.from ?? '—' },
        { header: 'TO', value: (m) => m.to ?? 'no room' },
        { header: 'WHY', value: (m) => m.why.replace('_', ' ') },
      ],
      '',
    );
  }
}

/** The rooms and what an operator does to them: block, unblock, cleaned, move a booking, re-plan. */
export function registerRoomCommands(program: Command, ctx: CommandContext): void {
  const rooms = program.command('rooms').description('the rooms Usher assigns to in-person bookings');
  rooms
    .command('list', { isDefault: true })
    .description('the rooms, with their equipment, cleaning time and opening hours')
    .option('--all', 'retired rooms too')
    .addHelpText('after', examples('usher rooms list', 'usher rooms list --all --json'))
    .action(async (o: { all?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const list = await ctx.withOperations((ops) => ops.listRooms({ all: o.all ?? false }), { migrate: false, create: false });
      out.table<RoomRecord>(
        list,
        [
          { header: 'ROOM', value: (r) => r.name },
          { header: 'BUILDING', value: (r) => r.building },
          { header: 'FLOOR', value: (r) => r.floor },
          { header: 'EQUIPMENT', value: (r) => r.equipment.join(', ') },
          { header: 'CLEANING', value: (r) => (r.cleaningMinutes ? `${r.cleaningMinutes} min` : '') },
          { header: 'OPEN', value: (r) => (r.open ? `${hhmm(r.open.fromMinute)}–${hhmm(r.open.toMinute)}` : 'always') },
          { header: 'ACTIVE', value: (r) => (r.active ? 'yes' : 'retired') },
        ],
        'no rooms (add them under rooms: in the config)',
      );
    });
  rooms
    .command('block')
    .description('take a room out of use (now, or from --from) until a time; its bookings move with the fewest changes')
    .argument('<room>')
    .requiredOption('--until <time>', 'when it is usable again (ISO time)', isoTime)
    .option('--from <time>', 'when the block starts (default: now)', isoTime)
    .requiredOption('--reason <text>', 'shown on the board')
    .addHelpText(
      'after',
      examples(
        'usher rooms block 3A --until 2026-12-01T16:00:00Z --reason "X-ray service"',
        'usher rooms block 2B --from 2026-12-08T14:00+01:00 --until 2026-12-08T16:00+01:00 --reason "painting"',
      ),
    )
    .action(async (room: string, o: { until: string; from?: string; reason: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const result = await ctx.withOperations((ops) =>
        ops.blockRoom(room, { until: o.until, reason: o.reason, ...(o.from ? { from: o.from } : {}) }),
      );
      showPlan(out, result, `${room} blocked (block ${result.blockId})`);
    });
  rooms
    .command('unblock')
    .description('lift a block early')
    .argument('<block>', 'the block number rooms block printed', wholeNumber(1, Number.MAX_SAFE_INTEGER))
    .addHelpText('after', examples('usher rooms unblock 12'))
    .action(async (block: number, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      showPlan(out, await ctx.withOperations((ops) => ops.unblockRoom(block)), `block ${block} lifted`);
    });
  rooms
    .command('cleaned')
    .description('the room is clean now: its cleaning buffer ends')
    .argument('<room>')
    .addHelpText('after', examples('usher rooms cleaned 1B'))
    .action(async (room: string, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const result = await ctx.withOperations((ops) => ops.markCleaned(room));
      if (out.json) return out.record(result);
      out.say(`${room} is clean${result.shortened.length ? ` (cleaning cut short after ${result.shortened.join(', ')})` : ''}.`);
    });
  rooms
    .command('move')
    .description('move a booking to a room (pinned there); Cal.com is told')
    .argument('<uid>', 'the booking')
    .argument('<room>')
    .addHelpText('after', examples('usher rooms move bk_123 1A'))
    .action(async (uid: string, room: string, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const result = await ctx.withOperations((ops) => ops.moveBooking(uid, { room }));
      if (out.json) return out.record(result);
      out.say(`${uid} is in ${result.room}; Cal.com will show "${result.location}".`);
    });
  rooms
    .command('replan')
    .description('re-plan every upcoming booking now (waiting ones get a room if one is free)')
    .addHelpText('after', examples('usher rooms replan'))
    .action(async (_o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      showPlan(out, await ctx.withOperations((ops) => ops.replan()), 're-planned');
    });
}
