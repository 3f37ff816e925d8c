import { useEffect, useState } from 'preact/hooks';
import { act, type ActionError, type BoardView, type Session } from './api.ts';
import type { DialogState } from './dialogs.tsx';
import { eta, time, when } from './format.ts';
import { afterStart, needsPerson } from './write-backs.ts';

interface Props {
  view: BoardView;
  now: number;
  staff: boolean;
  session: Session;
  open: (d: DialogState) => void;
}

/** A landscape screen of 1200 px or more is a wall display: it cannot scroll, so each group shows less. */
const WALL = '(min-width: 1200px) and (orientation: landscape)';

function useWall(): boolean {
  const [wall, setWall] = useState(() => window.matchMedia(WALL).matches);
  useEffect(() => {
    const query = window.matchMedia(WALL);
    const change = () => setWall(query.matches);
    query.addEventListener('change', change);
    return () => query.removeEventListener('change', change);
  }, []);
  return wall;
}

/** A group of the attention list: the first few items, the rest one keypress away. */
function Section<T>({
  title,
  items,
  render,
  tone,
}: {
  title: string;
  items: readonly T[];
  render: (item: T) => preact.ComponentChildren;
  tone: string;
}) {
  const [all, setAll] = useState(false);
  const SHOWN = useWall() ? 2 : 5;
  if (items.length === 0) return null;
  const shown = all ? items : items.slice(0, SHOWN);
  return (
    <section class={`attention-group ${tone}`} aria-label={title}>
      <h3>
        {title} <span class="count">{items.length}</span>
      </h3>
      <ul>{shown.map(render)}</ul>
      {items.length > SHOWN ? (
        <button type="button" class="quiet more" aria-expanded={all} onClick={() => setAll(!all)}>
          {all ? 'Show fewer' : `Show ${items.length - SHOWN} more`}
        </button>
      ) : null}
    </section>
  );
}

function ReplayButton({ session, refId }: { session: Session; refId: string }) {
  const [state, setState] = useState<{ busy?: boolean; error?: string }>({});
  const replay = async () => {
    setState({ busy: true });
    try {
      await act(session, `/board/api/replay/${encodeURIComponent(refId)}`);
      setState({});
    } catch (e) {
      setState({ error: (e as ActionError).message });
    }
  };
  return (
    <>
      <button type="button" disabled={state.busy} onClick={replay}>
        {state.busy ? 'Replaying…' : 'Replay'}
      </button>
      {state.error ? (
        <span class="error" role="alert">
          {state.error}
        </span>
      ) : null}
    </>
  );
}

/**
 * What a person must look at: bookings without a room, held bookings, Cal.com behind, failures;
 * then, not counted, the write-backs only on their way to Cal.com (write-backs.ts).
 */
export function AttentionPanel({ view, now, staff, session, open }: Props) {
  const zone = view.timeZone;
  const a = view.attention;
  const startOf = (uid: string | null) => (uid ? view.bookings[uid]?.start : undefined);
  const [behind, onItsWay]: [typeof a.writeBacks, typeof a.writeBacks] = [[], []];
  for (const w of a.writeBacks) (needsPerson(w, startOf(w.uid), now) ? behind : onItsWay).push(w);
  const total = a.waiting.length + a.held.length + behind.length + a.dead.length;
  const writeBack = (w: (typeof a.writeBacks)[number]) => {
    const start = startOf(w.uid);
    return (
      <li key={w.job} data-uid={w.uid ?? undefined}>
        <p class="what">{w.label}</p>
        <p class="why">
          {w.state === 'sending' ? 'sending now' : `expected ${eta(w.expectedAt, zone, now)} · held back by Cal.com's rate limit`}
          {start && afterStart(w, start) ? ` · after it starts at ${time(start, zone)}` : ''}
          {w.attempts > 0 && w.lastError ? ` · attempt ${w.attempts} failed: ${w.lastError}` : ''}
        </p>
      </li>
    );
  };
  return (
    <section class="attention" aria-labelledby="attention-title" data-testid="attention">
      <h2 id="attention-title">
        Needs attention <span class={`count${total > 0 ? ' alarm' : ''}`}>{total}</span>
      </h2>
      {total === 0 ? <p class="all-clear">Nothing needs attention.</p> : null}
      <Section
        title="Held for a person"
        items={a.held}
        tone="held"
        render={(h) => (
          <li key={h.uid} data-uid={h.uid}>
            <p class="what">
              <strong>{when(h.start, zone, now)}</strong> {h.label}
              {h.member ? <span class="muted"> · {h.member}</span> : null}
            </p>
            <p class="why">{h.why}</p>
            {staff ? (
              <div class="actions">
                <button type="button" onClick={() => open({ kind: 'approve', uid: h.uid, label: h.label })}>
                  Approve…
                </button>
                <button type="button" onClick={() => open({ kind: 'decline', uid: h.uid, label: h.label })}>
                  Decline…
                </button>
              </div>
            ) : null}
          </li>
        )}
      />
      <Section
        title="Waiting for a room"
        items={a.waiting}
        tone="waiting"
        render={(w) => (
          <li key={w.uid} data-uid={w.uid}>
            <p class="what">
              <strong>{when(w.start, zone, now)}</strong> {w.label}
            </p>
            <p class="why">{w.why}</p>
            {staff ? (
              <div class="actions">
                <button type="button" onClick={() => open({ kind: 'booking', uid: w.uid, label: w.label })}>
                  Choose a room…
                </button>
              </div>
            ) : null}
          </li>
        )}
      />
      <Section title="Not yet in Cal.com" items={behind} tone="writes" render={writeBack} />
      <Section
        title="Failed — needs a replay"
        items={a.dead}
        tone="dead"
        render={(d) => (
          <li key={d.ref}>
            <p class="what">
              {d.what} <span class="muted">{d.ref}</span>
            </p>
            <p class="why">{d.error ?? 'gave up after its last attempt'}</p>
            {staff ? (
              <div class="actions">
                <ReplayButton session={session} refId={d.ref} />
              </div>
            ) : null}
          </li>
        )}
      />
      <Section title="On its way to Cal.com" items={onItsWay} tone="on-its-way" render={writeBack} />
    </section>
  );
}

export function DecisionFeed({ view, now }: { view: BoardView; now: number }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: it scrolls on a tablet, and a scrolling region must be reachable by keyboard (WCAG 2.1.1; axe's scrollable-region-focusable)
    <section class="feed" aria-labelledby="feed-title" tabIndex={0}>
      <h2 id="feed-title">Recent decisions</h2>
      {view.feed.length === 0 ? <p class="muted">None yet.</p> : null}
      <ol>
        {view.feed.map((f) => (
          <li key={f.id} class={`k-${f.kind} o-${f.outcome}`}>
            <time dateTime={f.at}>{when(f.at, view.timeZone, now)}</time>
            <p>
              {f.label ? <strong>{f.label}: </strong> : null}
              {f.text}
            </p>
          </li>
        ))}
      </ol>
    </section>
  );
}
