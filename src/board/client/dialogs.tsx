import { useEffect, useRef, useState } from 'preact/hooks';
import { act, ActionError, type BoardView, type Session } from './api.ts';
import { bookingLabel, eta, instantOf, localDateTime, roomLabel, time, when, WRITTEN, writeBackText } from './format.ts';

export interface PlanMove {
  uid: string;
  from?: string;
  to?: string;
  why: string;
  label: string;
  start: string | null;
}

export type DialogState =
  | { kind: 'block'; room: string }
  | { kind: 'unblock'; room: string; blockId: number }
  | { kind: 'block-edit'; room: string; blockId: number; reason: string; from: string; until: string }
  | { kind: 'cleaned'; room: string }
  | { kind: 'booking'; uid: string; label?: string }
  | { kind: 'approve'; uid: string; label: string }
  | { kind: 'decline'; uid: string; label: string }
  | { kind: 'result'; title: string; moves: PlanMove[] };

interface Props {
  state: DialogState;
  view: BoardView;
  now: number;
  session: Session;
  close: () => void;
  open: (d: DialogState) => void;
}

/** A native modal dialog: focus moves in, Escape closes, focus returns to the button that opened it. */
function Modal({ title, close, children }: { title: string; close: () => void; children: preact.ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    return () => {
      dialog.close();
      opener?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        close();
      }}
    >
      <h2 id="dialog-title">{title}</h2>
      {children}
    </dialog>
  );
}

/** Runs an action once, shows its refusal in the dialog, and hands the answer on. */
function useAction<T>(run: () => Promise<T>, then: (value: T) => void) {
  const [state, setState] = useState<{ busy?: boolean; error?: ActionError }>({});
  const submit = async (e?: Event) => {
    e?.preventDefault();
    if (state.busy) return;
    setState({ busy: true });
    try {
      then(await run());
      setState({});
    } catch (error) {
      setState({ error: error instanceof ActionError ? error : new ActionError(String(error)) });
    }
  };
  const problem = state.error ? (
    <div class="error" role="alert">
      <p>{state.error.message}</p>
      {state.error.faults.length ? (
        <ul>
          {state.error.faults.map((f) => (
            <li key={f}>{f}</li>
          ))}
        </ul>
      ) : null}
    </div>
  ) : null;
  return { busy: !!state.busy, submit, problem };
}

function Buttons({ busy, label, close, focus }: { busy: boolean; label: string; close: () => void; focus?: boolean }) {
  return (
    <div class="dialog-buttons">
      <button type="button" class="quiet" onClick={close}>
        Cancel
      </button>
      <button type="submit" class="primary" disabled={busy} autoFocus={focus}>
        {busy ? 'Working…' : label}
      </button>
    </div>
  );
}

const DURATIONS = [
  [15, '15 minutes'],
  [30, '30 minutes'],
  [60, '1 hour'],
  [120, '2 hours'],
  [240, '4 hours'],
  [480, '8 hours'],
  [1440, '24 hours'],
  [10080, '1 week'],
] as const;

type PlanAnswer = { plan: { moves: PlanMove[] } };

function BlockDialog({ room, view, now, session, close, open }: Props & { room: string }) {
  const zone = view.timeZone;
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState(60);
  const [later, setLater] = useState(false);
  const [startAt, setStartAt] = useState(() => localDateTime(Math.ceil(now / 3_600_000) * 3_600_000, zone));
  const [preview, setPreview] = useState<{ key: string; moves: PlanMove[] }>();
  const from = later && startAt ? instantOf(startAt, zone) : now;
  const until = new Date(from + minutes * 60_000);
  const body = (extra: Record<string, unknown> = {}) => ({
    reason,
    ...(later ? { from: new Date(from).toISOString() } : {}),
    until: until.toISOString(),
    ...extra,
  });
  // A preview belongs to the block it was made for; change anything and it is gone.
  const key = `${reason}|${later ? from : 'now'}|${minutes}`;
  const { busy, submit, problem } = useAction(
    () => act<PlanAnswer>(session, `/board/api/rooms/${encodeURIComponent(room)}/block`, body()),
    (r) =>
      open({
        kind: 'result',
        title: `${roomLabel(room)} blocked until ${when(until.toISOString(), zone, now)}`,
        moves: r.plan.moves,
      }),
  );
  const look = useAction(
    () => act<PlanAnswer>(session, `/board/api/rooms/${encodeURIComponent(room)}/block`, body({ preview: true })),
    (r) => setPreview({ key, moves: r.plan.moves }),
  );
  const shown = preview?.key === key ? preview : undefined;
  return (
    <Modal title={`Block ${roomLabel(room)}`} close={close}>
      <form onSubmit={submit}>
        <label for="block-reason">Reason</label>
        <input
          id="block-reason"
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
          required
          maxLength={200}
          placeholder="e.g. broken treatment couch"
          autoFocus
        />
        <fieldset class="block-start">
          <legend>Starts</legend>
          <label>
            <input type="radio" name="block-start" checked={!later} onChange={() => setLater(false)} /> now
          </label>
          <label>
            <input type="radio" name="block-start" checked={later} onChange={() => setLater(true)} /> at
          </label>
          <input
            type="datetime-local"
            aria-label="Start of the block"
            value={startAt}
            disabled={!later}
            min={localDateTime(now, zone)}
            onInput={(e) => setStartAt(e.currentTarget.value)}
          />
        </fieldset>
        <label for="block-for">For</label>
        <select id="block-for" value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
          {DURATIONS.map(([m, text]) => (
            <option key={m} value={m}>
              {text}
            </option>
          ))}
        </select>
        <p class="hint">
          {later ? `From ${when(new Date(from).toISOString(), zone, now)} u` : 'U'}ntil {when(until.toISOString(), zone, now)}. Its bookings
          in that time move to other rooms, or wait for one.
        </p>
        {shown ? (
          <div class="preview" role="status">
            {shown.moves.length === 0 ? (
              <p>No booking would move.</p>
            ) : (
              <>
                <p>This would change {shown.moves.length === 1 ? 'one booking' : `${shown.moves.length} bookings`}:</p>
                <MoveList moves={shown.moves} view={view} now={now} />
              </>
            )}
          </div>
        ) : null}
        {problem ?? look.problem}
        <div class="dialog-buttons">
          <button type="button" disabled={look.busy || !reason.trim()} onClick={(e) => look.submit(e as unknown as Event)}>
            {look.busy ? 'Looking…' : 'Preview the effect'}
          </button>
        </div>
        <Buttons busy={busy} label="Block room" close={close} />
      </form>
    </Modal>
  );
}

/** A block on the timeline: change its times or reason (with the effect previewed), or lift it. */
function BlockEditDialog({
  room,
  blockId,
  view,
  now,
  session,
  close,
  open,
  ...was
}: Props & { room: string; blockId: number; reason: string; from: string; until: string }) {
  const zone = view.timeZone;
  const [reason, setReason] = useState(was.reason);
  const [startAt, setStartAt] = useState(localDateTime(Math.max(Date.parse(was.from), now), zone));
  const [endAt, setEndAt] = useState(localDateTime(Date.parse(was.until), zone));
  const [preview, setPreview] = useState<{ key: string; moves: PlanMove[] }>();
  const from = instantOf(startAt, zone);
  const until = instantOf(endAt, zone);
  const key = `${reason}|${from}|${until}`;
  const body = (extra: Record<string, unknown> = {}) => ({
    reason,
    from: new Date(from).toISOString(),
    until: new Date(until).toISOString(),
    ...extra,
  });
  const save = useAction(
    () => act<PlanAnswer>(session, `/board/api/blocks/${blockId}/change`, body()),
    (r) =>
      open({
        kind: 'result',
        title: `${roomLabel(room)} blocked until ${when(new Date(until).toISOString(), zone, now)}`,
        moves: r.plan.moves,
      }),
  );
  const look = useAction(
    () => act<PlanAnswer>(session, `/board/api/blocks/${blockId}/change`, body({ preview: true })),
    (r) => setPreview({ key, moves: r.plan.moves }),
  );
  const lift = useAction(
    () => act<PlanAnswer>(session, `/board/api/blocks/${blockId}/unblock`),
    (r) => open({ kind: 'result', title: `${roomLabel(room)} unblocked`, moves: r.plan.moves }),
  );
  const shown = preview?.key === key ? preview : undefined;
  return (
    <Modal title={`Block on ${roomLabel(room)}`} close={close}>
      <form onSubmit={save.submit}>
        <label for="block-edit-reason">Reason</label>
        <input id="block-edit-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} required maxLength={200} autoFocus />
        <label for="block-edit-from">From</label>
        <input id="block-edit-from" type="datetime-local" value={startAt} onInput={(e) => setStartAt(e.currentTarget.value)} required />
        <label for="block-edit-until">Until</label>
        <input id="block-edit-until" type="datetime-local" value={endAt} onInput={(e) => setEndAt(e.currentTarget.value)} required />
        {shown ? (
          <div class="preview" role="status">
            {shown.moves.length === 0 ? <p>No booking would move.</p> : <MoveList moves={shown.moves} view={view} now={now} />}
          </div>
        ) : null}
        {save.problem ?? look.problem ?? lift.problem}
        <div class="dialog-buttons">
          <button type="button" disabled={lift.busy} onClick={(e) => lift.submit(e as unknown as Event)}>
            {lift.busy ? 'Lifting…' : 'Lift block'}
          </button>
          <button type="button" disabled={look.busy || !reason.trim()} onClick={(e) => look.submit(e as unknown as Event)}>
            {look.busy ? 'Looking…' : 'Preview the effect'}
          </button>
        </div>
        <Buttons busy={save.busy} label="Save changes" close={close} />
      </form>
    </Modal>
  );
}

function ConfirmDialog({
  title,
  text,
  label,
  run,
  then,
  close,
}: {
  title: string;
  text: string;
  label: string;
  run: () => Promise<unknown>;
  then: (value: unknown) => void;
  close: () => void;
}) {
  const { busy, submit, problem } = useAction(run, then);
  return (
    <Modal title={title} close={close}>
      <form onSubmit={submit}>
        <p>{text}</p>
        {problem}
        <Buttons busy={busy} label={label} close={close} focus />
      </form>
    </Modal>
  );
}

interface RoomChoice {
  room: string;
  fits: boolean;
  why: string;
  occupants?: string[];
}

/** The rooms for one booking from Usher (fitting ones first, each with why), asked for when the dialog opens. */
function useRoomChoices(uid: string, enabled: boolean): { choices: RoomChoice[] | undefined; failed: boolean } {
  const [state, setState] = useState<{ choices?: RoomChoice[]; failed: boolean }>({ failed: false });
  useEffect(() => {
    if (!enabled) return;
    let current = true;
    fetch(`/board/api/bookings/${encodeURIComponent(uid)}/rooms`, { credentials: 'same-origin' })
      .then(async (res) => {
        if (!res.ok) throw new Error(String(res.status));
        const choices = ((await res.json()) as { data: RoomChoice[] }).data;
        if (current) setState({ choices, failed: false });
      })
      .catch(() => current && setState({ failed: true }));
    return () => {
      current = false;
    };
  }, [uid, enabled]);
  return { choices: state.choices, failed: state.failed };
}

function BookingDialog({ uid, label, view, now, session, close }: Props & { uid: string; label?: string }) {
  const zone = view.timeZone;
  const b = view.bookings[uid];
  const rooms = view.groups.flatMap((g) => g.rooms);
  const current = rooms.find((r) => r.bookings.includes(uid))?.name;
  const staff = session.role === 'staff';
  const { choices, failed } = useRoomChoices(uid, staff);
  const others = choices?.filter((c) => c.room !== current);
  const [picked, setPicked] = useState<string>();
  const room = picked ?? others?.find((c) => c.fits)?.room ?? '';
  const { busy, submit, problem } = useAction(() => act(session, `/board/api/bookings/${encodeURIComponent(uid)}/move`, { room }), close);
  const who = (uids: readonly string[] | undefined) =>
    uids
      ?.map((u) => view.bookings[u])
      .filter((x) => x !== undefined)
      .map((x) => `${time(x.start, zone)} ${bookingLabel(x)}`)
      .join(', ');
  return (
    <Modal title={b ? bookingLabel(b) : (label ?? 'Booking')} close={close}>
      <dl class="facts">
        {b ? (
          <>
            <dt>When</dt>
            <dd>
              {when(b.start, zone, now)}–{time(b.end, zone)} (room clear at {time(b.clearAt, zone)})
            </dd>
            <dt>Status</dt>
            <dd>{b.status === 'pending' ? 'awaiting confirmation' : b.status}</dd>
            <dt>Room</dt>
            <dd>{current ? `${roomLabel(current)}${b.pinned ? ' (pinned by staff)' : ''}` : 'none yet'}</dd>
            <dt>Cal.com</dt>
            <dd>{writeBackText(b, zone, now)}</dd>
          </>
        ) : null}
      </dl>
      {staff ? (
        <form onSubmit={submit}>
          <fieldset class="room-choices">
            <legend>Move to</legend>
            {failed ? <p class="error">The rooms could not be loaded; close and try again.</p> : null}
            {!others && !failed ? <p class="hint">Finding the rooms that fit…</p> : null}
            {others?.length === 0 ? <p class="hint">There is no other room.</p> : null}
            {others?.map((c) => (
              <label key={c.room} class={`room-choice${c.fits ? '' : ' unfit'}`}>
                <input
                  type="radio"
                  name="move-room"
                  value={c.room}
                  checked={room === c.room}
                  disabled={!c.fits}
                  onChange={() => setPicked(c.room)}
                />
                <span class="name">{roomLabel(c.room)}</span>
                <span class="why">
                  {c.why}
                  {!c.fits && c.occupants?.length ? ` ${who(c.occupants)}` : ''}
                </span>
              </label>
            ))}
          </fieldset>
          <p class="hint">The booking is pinned there: re-plans will not move it again. Cal.com is told the new room.</p>
          {problem}
          <Buttons busy={busy || !room} label="Move booking" close={close} />
        </form>
      ) : (
        <div class="dialog-buttons">
          <button type="button" onClick={close}>
            Close
          </button>
        </div>
      )}
    </Modal>
  );
}

function DecideDialog({ uid, label, approve, session, close }: Props & { uid: string; label: string; approve: boolean }) {
  const [text, setText] = useState('');
  const [charge, setCharge] = useState(true);
  const { busy, submit, problem } = useAction(
    () =>
      act(
        session,
        `/board/api/bookings/${encodeURIComponent(uid)}/${approve ? 'approve' : 'decline'}`,
        approve ? { charge, ...(text ? { note: text } : {}) } : { reason: text },
      ),
    close,
  );
  return (
    <Modal title={`${approve ? 'Approve' : 'Decline'}: ${label}`} close={close}>
      <form onSubmit={submit}>
        <label for="decide-text">{approve ? 'Note (for the log, optional)' : 'Reason (the booker sees it)'}</label>
        <input
          id="decide-text"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          required={!approve}
          maxLength={500}
          autoFocus
        />
        {approve ? (
          <label class="check">
            <input type="checkbox" checked={charge} onChange={(e) => setCharge(e.currentTarget.checked)} /> Take the session's credits from
            the member
          </label>
        ) : null}
        <p class="hint">
          {approve ? 'Cal.com confirms the booking.' : 'Held credits are released, and Cal.com declines the booking with this reason.'}
        </p>
        {problem}
        <Buttons busy={busy} label={approve ? 'Approve' : 'Decline'} close={close} />
      </form>
    </Modal>
  );
}

const WHY: Record<string, string> = {
  room_unusable: 'its room is blocked',
  made_way: 'made way',
  placed: 'found a room',
  no_room: 'no room left',
};

/** The bookings a block would move, for the preview: when, who, from where to where. */
function MoveList({ moves, view, now }: { moves: PlanMove[]; view: BoardView; now: number }) {
  return (
    <ul class="moves" data-testid="preview-moves">
      {moves.map((m) => (
        <li key={m.uid} data-uid={m.uid}>
          <p class="what">
            {m.start ? <strong>{when(m.start, view.timeZone, now)} </strong> : null}
            {m.label}
          </p>
          <p>
            {m.from ? roomLabel(m.from) : 'no room'} → {m.to ? roomLabel(m.to) : 'no room: it would wait'}{' '}
            <span class="muted">({WHY[m.why] ?? m.why})</span>
          </p>
        </li>
      ))}
    </ul>
  );
}

/** What a block or unblock did, with each moved booking's Cal.com state kept live. */
function ResultDialog({ title, moves, view, now, close }: Props & { title: string; moves: PlanMove[] }) {
  const zone = view.timeZone;
  const pending = new Map(view.attention.writeBacks.filter((w) => w.kind === 'cal.location' && w.uid).map((w) => [w.uid!, w]));
  const rooms = view.groups.flatMap((g) => g.rooms);
  const status = (m: PlanMove) => {
    if (!m.to) return 'waiting for a room (see Needs attention)';
    const b = view.bookings[m.uid];
    // The answer can arrive before the view that includes the move: say nothing about Cal.com yet.
    if (b && !rooms.find((r) => r.name === m.to)?.bookings.includes(m.uid)) return 'Cal.com: being told';
    if (b) return writeBackText(b, zone, now);
    const w = pending.get(m.uid);
    if (w) return w.state === 'sending' ? 'Cal.com: sending now' : `Cal.com: expected ${eta(w.expectedAt, zone, now)}`;
    return WRITTEN;
  };
  return (
    <Modal title={title} close={close}>
      {moves.length === 0 ? (
        <p>No booking had to move.</p>
      ) : (
        <>
          <p>
            {moves.length} booking{moves.length === 1 ? '' : 's'} changed room:
          </p>
          <ul class="moves" data-testid="moves">
            {moves.map((m) => (
              <li key={m.uid} data-uid={m.uid}>
                <p class="what">
                  {m.start ? <strong>{when(m.start, zone, now)} </strong> : null}
                  {m.label}
                </p>
                <p>
                  {m.from ? roomLabel(m.from) : 'no room'} → {m.to ? roomLabel(m.to) : 'no room'}{' '}
                  <span class="muted">({WHY[m.why] ?? m.why})</span>
                </p>
                <p class={`write-state${status(m) === WRITTEN ? ' done' : ''}`}>{status(m)}</p>
              </li>
            ))}
          </ul>
        </>
      )}
      <div class="dialog-buttons">
        <button type="button" class="primary" onClick={close} autoFocus>
          Done
        </button>
      </div>
    </Modal>
  );
}

export function Dialogs(props: Props) {
  const { state, session, close, open } = props;
  // A fresh dialog for each state: the key drops the old one's form and focus handling.
  const key = JSON.stringify(state);
  switch (state.kind) {
    case 'block':
      return <BlockDialog key={key} {...props} room={state.room} />;
    case 'unblock':
      return (
        <ConfirmDialog
          key={key}
          title={`Unblock ${roomLabel(state.room)}`}
          text="The room becomes usable now; bookings waiting for a room may be placed in it."
          label="Unblock"
          run={() => act<PlanAnswer>(session, `/board/api/blocks/${state.blockId}/unblock`)}
          then={(r) => open({ kind: 'result', title: `${roomLabel(state.room)} unblocked`, moves: (r as PlanAnswer).plan.moves })}
          close={close}
        />
      );
    case 'block-edit':
      return (
        <BlockEditDialog
          key={key}
          {...props}
          room={state.room}
          blockId={state.blockId}
          reason={state.reason}
          from={state.from}
          until={state.until}
        />
      );
    case 'cleaned':
      return (
        <ConfirmDialog
          key={key}
          title={`${roomLabel(state.room)} is clean`}
          text="The cleaning time ends now and the room is free for the next booking."
          label="Mark cleaned"
          run={() => act(session, `/board/api/rooms/${encodeURIComponent(state.room)}/cleaned`)}
          then={close}
          close={close}
        />
      );
    case 'booking':
      return <BookingDialog key={key} {...props} uid={state.uid} {...(state.label ? { label: state.label } : {})} />;
    case 'approve':
    case 'decline':
      return <DecideDialog key={key} {...props} uid={state.uid} label={state.label} approve={state.kind === 'approve'} />;
    case 'result':
      return <ResultDialog key={key} {...props} title={state.title} moves={state.moves} />;
  }
}
