import { useEffect, useRef, useState } from 'preact/hooks';
import { act, ActionError, type BoardView, type Session } from './api.ts';
import { bookingLabel, eta, roomLabel, time, when, WRITTEN, writeBackText } from './format.ts';

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
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState(60);
  const until = new Date(now + minutes * 60_000);
  const { busy, submit, problem } = useAction(
    () => act<PlanAnswer>(session, `/board/api/rooms/${encodeURIComponent(room)}/block`, { reason, until: until.toISOString() }),
    (r) =>
      open({
        kind: 'result',
        title: `${roomLabel(room)} blocked until ${when(until.toISOString(), view.timeZone, now)}`,
        moves: r.plan.moves,
      }),
  );
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
        <label for="block-for">For</label>
        <select id="block-for" value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
          {DURATIONS.map(([m, text]) => (
            <option key={m} value={m}>
              {text}
            </option>
          ))}
        </select>
        <p class="hint">
          Until {when(until.toISOString(), view.timeZone, now)}. Its bookings in that time move to other rooms; you will see which.
        </p>
        {problem}
        <Buttons busy={busy} label="Block room" close={close} />
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

function BookingDialog({ uid, label, view, now, session, close }: Props & { uid: string; label?: string }) {
  const zone = view.timeZone;
  const b = view.bookings[uid];
  const rooms = view.groups.flatMap((g) => g.rooms);
  const current = rooms.find((r) => r.bookings.includes(uid))?.name;
  const [room, setRoom] = useState(rooms.find((r) => r.name !== current)?.name ?? '');
  const { busy, submit, problem } = useAction(() => act(session, `/board/api/bookings/${encodeURIComponent(uid)}/move`, { room }), close);
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
        <dt>Booking</dt>
        <dd class="muted">{uid}</dd>
      </dl>
      {session.role === 'staff' ? (
        <form onSubmit={submit}>
          <label for="move-room">Move to</label>
          <select id="move-room" value={room} onChange={(e) => setRoom(e.currentTarget.value)}>
            {rooms
              .filter((r) => r.name !== current)
              .map((r) => (
                <option key={r.name} value={r.name}>
                  {roomLabel(r.name)}
                  {r.equipment.length ? ` (${r.equipment.join(', ')})` : ''}
                </option>
              ))}
          </select>
          <p class="hint">The booking is pinned there: re-plans will not move it again. Cal.com is told the new room.</p>
          {problem}
          <Buttons busy={busy} label="Move booking" close={close} />
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
