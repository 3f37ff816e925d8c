import type { BoardView, ViewBooking, ViewRoom } from './api.ts';
import type { DialogState } from './dialogs.tsx';
import { bookingLabel, floorLabel, minuteOfDay, roomLabel, time, until, when, writeBackText } from './format.ts';

/** "Consultation · P. D.", the initials never split across two lines. */
function BookingName({ b }: { b: ViewBooking | undefined }) {
  if (!b?.who) return <>{bookingLabel(b)}</>;
  return (
    <>
      {b.title ?? 'Booking'} · <span class="who">{b.who}</span>
    </>
  );
}

interface Props {
  view: BoardView;
  now: number;
  staff: boolean;
  open: (d: DialogState) => void;
  /** The live board of today; false for another day (no "now", no state, no actions on it). */
  today: boolean;
}

/**
 * The hours the timeline spans, whole hours: the rooms' opening hours when they have them, widened
 * to the day's bookings and to an hour either side of now; 08–18 when the day holds nothing. Blocks
 * never widen it (a 24-hour block is clipped to the day the clinic works), so short bookings keep
 * their width.
 */
function span(view: BoardView, dayOf: number, now: number): { from: number; to: number } {
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  const widen = (a: number, z: number) => {
    from = Math.min(from, a);
    to = Math.max(to, z);
  };
  for (const g of view.groups)
    for (const r of g.rooms) {
      if (r.open) widen(r.open.fromMinute, r.open.toMinute);
      for (const uid of r.bookings) {
        const b = view.bookings[uid]!;
        widen(minuteOfDay(b.start, dayOf, view.timeZone), minuteOfDay(b.clearAt, dayOf, view.timeZone));
      }
    }
  const nowMinute = minuteOfDay(now, dayOf, view.timeZone);
  if (nowMinute >= 0 && nowMinute < 24 * 60) widen(nowMinute - 60, nowMinute + 60);
  if (!Number.isFinite(from)) widen(8 * 60, 18 * 60);
  return { from: Math.max(0, Math.floor(from / 60) * 60), to: Math.min(24 * 60, Math.ceil(to / 60) * 60) };
}

function StateLine({ room, view, now }: { room: ViewRoom; view: BoardView; now: number }) {
  const zone = view.timeZone;
  const s = room.now;
  switch (s.state) {
    case 'in_use':
      return (
        <>
          <p class="state">In use · until {until(s.until, zone, now)}</p>
          <p class="detail" title={bookingLabel(view.bookings[s.booking])}>
            <BookingName b={view.bookings[s.booking]} />
          </p>
        </>
      );
    case 'cleaning':
      return (
        <>
          <p class="state">Cleaning · until {until(s.until, zone, now)}</p>
          <p class="detail" title={`after ${bookingLabel(view.bookings[s.after])}`}>
            after <BookingName b={view.bookings[s.after]} />
          </p>
        </>
      );
    case 'blocked':
      return (
        <>
          <p class="state">Blocked · until {until(s.until, zone, now)}</p>
          <p class="detail" title={s.reason}>
            {s.reason}
          </p>
        </>
      );
    default:
      return (
        <>
          <p class="state">Free · ready</p>
          {room.next ? null : <p class="detail">nothing more today</p>}
        </>
      );
  }
}

function Timeline({
  room,
  view,
  now,
  range,
  dayOf,
  open,
  staff,
}: {
  staff: boolean;
  room: ViewRoom;
  view: BoardView;
  now: number;
  range: { from: number; to: number };
  dayOf: number;
  open: Props['open'];
}) {
  const zone = view.timeZone;
  const width = range.to - range.from;
  const place = (a: string, z: string) => {
    const left = Math.max(0, minuteOfDay(a, dayOf, zone) - range.from);
    const right = Math.min(width, minuteOfDay(z, dayOf, zone) - range.from);
    return { left: `${(left / width) * 100}%`, width: `${(Math.max(right - left, 0) / width) * 100}%` };
  };
  const nowAt = minuteOfDay(now, dayOf, zone) - range.from;
  return (
    <div class="timeline" style={{ '--hours': width / 60 }}>
      {room.blocks.map((b) =>
        // Staff can change or lift any block from here, a planned one included.
        staff ? (
          <button
            type="button"
            key={`blk${b.id}`}
            class="slot block"
            style={place(b.from, b.until)}
            title={`Blocked ${when(b.from, zone, now)}–${time(b.until, zone)}: ${b.reason}`}
            aria-label={`Blocked ${when(b.from, zone, now)} to ${time(b.until, zone)}: ${b.reason} — select to change or lift it`}
            onClick={() => open({ kind: 'block-edit', room: room.name, blockId: b.id, reason: b.reason, from: b.from, until: b.until })}
          >
            <span>{b.reason}</span>
          </button>
        ) : (
          <div
            key={`blk${b.id}`}
            class="slot block"
            style={place(b.from, b.until)}
            title={`Blocked ${time(b.from, zone)}–${time(b.until, zone)}: ${b.reason}`}
          >
            <span>{b.reason}</span>
          </div>
        ),
      )}
      {room.bookings
        .map((uid) => view.bookings[uid]!)
        .map((b) => (
          <div key={b.uid} class="slot-pair">
            <div class="slot buffer" style={place(b.end, b.clearAt)} aria-hidden="true" />
            <button
              type="button"
              class={`slot booking${b.written || b.writeSkipped ? '' : ' unwritten'}${b.pinned ? ' pinned' : ''}${b.status === 'pending' ? ' tentative' : ''}`}
              style={place(b.start, b.end)}
              title={`${time(b.start, zone)}–${time(b.end, zone)} ${bookingLabel(b)} — ${writeBackText(b, zone, now)}`}
              aria-label={`${time(b.start, zone)} to ${time(b.end, zone)}, ${bookingLabel(b)}, ${writeBackText(b, zone, now)}`}
              onClick={() => open({ kind: 'booking', uid: b.uid })}
            >
              <span>{b.who?.replace(/\s/g, '') ?? b.title}</span>
            </button>
          </div>
        ))}
      {nowAt >= 0 && nowAt <= width ? <div class="now-line" style={{ left: `${(nowAt / width) * 100}%` }} aria-hidden="true" /> : null}
    </div>
  );
}

function RoomRow({
  room,
  view,
  now,
  staff,
  open,
  range,
  dayOf,
  today,
}: Props & { room: ViewRoom; range: { from: number; to: number }; dayOf: number }) {
  const zone = view.timeZone;
  const next = today && room.next ? view.bookings[room.next] : undefined;
  const id = `room-${room.name.replace(/\W/g, '_')}`;
  if (!today) {
    const count = room.bookings.length;
    return (
      <article class="room s-day" aria-labelledby={id} data-room={room.name}>
        <div class="room-head">
          <h3 id={id}>{roomLabel(room.name)}</h3>
          <p class="detail">
            {count === 0 ? 'no bookings' : `${count} booking${count === 1 ? '' : 's'}`}
            {room.blocks.length ? ` · blocked ${room.blocks.map((b) => `${time(b.from, zone)}–${time(b.until, zone)}`).join(', ')}` : ''}
          </p>
        </div>
        <Timeline room={room} view={view} now={now} range={range} dayOf={dayOf} open={open} staff={staff} />
      </article>
    );
  }
  return (
    <article class={`room s-${room.now.state}`} aria-labelledby={id} data-room={room.name}>
      <div class="room-head">
        <h3 id={id}>{roomLabel(room.name)}</h3>
        <StateLine room={room} view={view} now={now} />
        {next ? (
          <p class="next" title={`Next ${when(next.start, zone, now)} → ${bookingLabel(next)}`}>
            Next {when(next.start, zone, now)} → <BookingName b={next} />
            {next.written ? (
              ''
            ) : (
              <span class="pending-mark" title={writeBackText(next, zone, now)}>
                {' '}
                · {writeBackText(next, zone, now)}
              </span>
            )}
          </p>
        ) : null}
        {staff ? (
          <div class="actions">
            {room.now.state === 'blocked' ? (
              <button
                type="button"
                onClick={() => open({ kind: 'unblock', room: room.name, blockId: (room.now as { blockId: number }).blockId })}
              >
                Unblock
              </button>
            ) : (
              <button type="button" onClick={() => open({ kind: 'block', room: room.name })}>
                Block…
              </button>
            )}
            {room.now.state === 'cleaning' ? (
              <button type="button" onClick={() => open({ kind: 'cleaned', room: room.name })}>
                Cleaned
              </button>
            ) : null}
          </div>
        ) : null}
      </div>
      <Timeline room={room} view={view} now={now} range={range} dayOf={dayOf} open={open} staff={staff} />
    </article>
  );
}

export function RoomGroups(props: Props) {
  const { view } = props;
  const dayOf = new Date(view.at).getTime();
  const range = span(view, dayOf, props.now);
  const hours = [];
  for (let m = range.from; m < range.to; m += 60) hours.push(m);
  if (view.groups.length === 0)
    return (
      <p class="empty">
        No rooms yet. Add them under <code>rooms:</code> in the config, or with PUT /api/rooms/&lt;name&gt;.
      </p>
    );
  return (
    <>
      <div class="axis" aria-hidden="true">
        <div />
        <div class="axis-hours">
          {hours.map((m) => (
            <span key={m} style={{ left: `${((m - range.from) / (range.to - range.from)) * 100}%` }}>
              {String(Math.floor(m / 60)).padStart(2, '0')}
            </span>
          ))}
        </div>
      </div>
      {view.groups.map((g) => (
        <section class="floor" key={`${g.building}|${g.floor}`} aria-label={floorLabel(g.building, g.floor)}>
          <h2>{floorLabel(g.building, g.floor)}</h2>
          {g.rooms.map((room) => (
            <RoomRow key={room.name} {...props} room={room} range={range} dayOf={dayOf} />
          ))}
        </section>
      ))}
    </>
  );
}
