import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { applyViewDelta, type ViewPatchMessage, type WholeViewMessage } from '../view-patch.ts';
import { act, type BoardView, loadSession, type Session, startPage } from './api.ts';
import { Dialogs, type DialogState } from './dialogs.tsx';
import { addDaysTo, day, localDate, timeWithSeconds } from './format.ts';
import { RoomGroups } from './rooms.tsx';
import { AttentionPanel, DecisionFeed } from './side.tsx';

type Connection = 'connecting' | 'live' | 'reconnecting';

/**
 * The view arrives whole over server-sent events on connect, then as patches of what changed
 * (view-patch.ts), each naming the view it applies to. A patch for another view than the one shown
 * (one was missed) opens the stream again, which starts with the whole view. The browser
 * reconnects by itself (the server asks for 1 s); a stream the server refused (signed out) is
 * replaced after a session check, so a restart of Usher never needs a reload. The page keeps its
 * elements across views (keyed), so a patch leaves focus and open dialogs as they were.
 */
function useLiveView(): { view: BoardView | undefined; connection: Connection } {
  const [live, setLive] = useState<WholeViewMessage<BoardView>>();
  const [connection, setConnection] = useState<Connection>('connecting');
  useEffect(() => {
    let source: EventSource | undefined;
    let retry: number | undefined;
    let shown: WholeViewMessage<BoardView> | undefined;
    const show = (next: WholeViewMessage<BoardView>) => {
      shown = next;
      setLive(next);
      setConnection('live');
    };
    const open = () => {
      shown = undefined;
      source = new EventSource('/board/events');
      source.addEventListener('open', () => setConnection('live'));
      source.addEventListener('view', (e) => show(JSON.parse((e as MessageEvent<string>).data) as WholeViewMessage<BoardView>));
      source.addEventListener('patch', (e) => {
        const patch = JSON.parse((e as MessageEvent<string>).data) as ViewPatchMessage;
        if (!shown) return; // the whole view is on its way
        if (patch.from !== shown.version) {
          source?.close();
          return open();
        }
        show({ version: patch.to, view: applyViewDelta(shown.view, patch.delta) });
      });
      source.addEventListener('error', () => {
        setConnection('reconnecting');
        if (source?.readyState !== EventSource.CLOSED) return;
        // Refused outright: signed out (the page shows the sign-in), or the server is still starting.
        retry = window.setTimeout(async () => {
          const session = await loadSession().catch(() => null);
          if (session === undefined) location.reload();
          else open();
        }, 2000);
      });
    };
    open();
    return () => {
      source?.close();
      window.clearTimeout(retry);
    };
  }, []);
  return { view: live?.view, connection };
}

/**
 * Another day's board (`date`, the clinic's YYYY-MM-DD), fetched when asked for and again whenever
 * the live view changes, so a booking made for that day shows up there too. Undefined for today.
 */
function useDayView(date: string | undefined, live: BoardView | undefined): { view: BoardView | undefined; failed: boolean } {
  const [state, setState] = useState<{ date: string; view?: BoardView; failed: boolean }>();
  useEffect(() => {
    if (!date) return;
    let current = true;
    fetch(`/board/api/day?date=${encodeURIComponent(date)}`, { credentials: 'same-origin' })
      .then(async (res) => {
        if (!res.ok) throw new Error(String(res.status));
        const view = ((await res.json()) as { data: BoardView }).data;
        if (current) setState({ date, view, failed: false });
      })
      .catch(() => current && setState((s) => ({ date, ...(s?.date === date && s.view ? { view: s.view } : {}), failed: true })));
    return () => {
      current = false;
    };
  }, [date, live]);
  return date && state?.date === date ? { view: state.view, failed: state.failed } : { view: undefined, failed: false };
}

/** ← and → step a day, T comes back to today: not while typing, nor with a dialog open. */
function useDayKeys(step: (days: number | 'today') => void, enabled: boolean) {
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.altKey || e.ctrlKey || e.metaKey || target?.closest('input, textarea, select, dialog')) return;
      if (e.key === 'ArrowLeft') step(-1);
      else if (e.key === 'ArrowRight') step(1);
      else if (e.key === 't' || e.key === 'T') step('today');
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [step, enabled]);
}

/** Usher's time, ticking: the board never trusts the screen's own clock. */
function useNow(offset: number): number {
  const [now, setNow] = useState(Date.now() + offset);
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now() + offset), 1000);
    return () => window.clearInterval(timer);
  }, []);
  return now;
}

const CONNECTION_TEXT: Record<Connection, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' };

function Board({ session }: { session: Session }) {
  const { view, connection } = useLiveView();
  const now = useNow(session.clockOffset);
  const [dialog, setDialog] = useState<DialogState>();
  const [date, setDate] = useState<string>();
  const zone0 = view?.timeZone ?? 'UTC';
  const today = localDate(now, zone0);
  const shown = date && date !== today ? date : undefined;
  const dayView = useDayView(shown, view);
  const step = (days: number | 'today') => {
    if (days === 'today') return setDate(undefined);
    const next = addDaysTo(shown ?? today, days);
    setDate(next === today ? undefined : next);
  };
  useDayKeys(step, dialog === undefined);
  const staff = session.role === 'staff';
  const signOut = async () => {
    await act(session, '/board/sign-out').catch(() => undefined);
    location.href = '/board';
  };
  const zone = view?.timeZone ?? 'UTC';
  return (
    <>
      <header class="top">
        <h1>{session.title}</h1>
        <p class="today">{view ? day(now, zone) : ''}</p>
        <p class="clock" title="time now">
          {view ? timeWithSeconds(now, zone) : ''}
        </p>
        {view ? (
          <nav class="day-nav" aria-label="Day">
            <button type="button" class="quiet" onClick={() => step(-1)} title="Previous day (←)" aria-label="Previous day">
              ◀
            </button>
            <button type="button" class="quiet" onClick={() => step('today')} disabled={!shown} title="Back to today (T)">
              Today
            </button>
            <input
              type="date"
              aria-label="Show the day"
              value={shown ?? today}
              onChange={(e) => {
                const v = (e.target as HTMLInputElement).value;
                if (/^\d{4}-\d{2}-\d{2}$/.test(v)) setDate(v === today ? undefined : v);
              }}
            />
            <button type="button" class="quiet" onClick={() => step(1)} title="Next day (→)" aria-label="Next day">
              ▶
            </button>
          </nav>
        ) : null}
        <p class={`connection ${connection}`} role="status" aria-live="polite" data-testid="connection">
          {CONNECTION_TEXT[connection]}
        </p>
        {staff ? (
          <a class="insights-link" href="/board/insights">
            Insights
          </a>
        ) : null}
        <p class="who">
          {session.name}
          {staff ? '' : ' · view only'}
        </p>
        <button type="button" class="quiet" onClick={signOut}>
          Sign out
        </button>
      </header>
      {!view ? (
        <p class="loading">Loading the board…</p>
      ) : (
        <main class="layout">
          <section class="rooms" aria-label="Rooms">
            {shown ? (
              <p class="other-day" role="status">
                {dayView.view
                  ? `${day(dayView.view.at, zone)}: the day's bookings and blocks`
                  : dayView.failed
                    ? 'That day could not be loaded.'
                    : 'Loading…'}{' '}
                <button type="button" onClick={() => step('today')}>
                  Back to today
                </button>
              </p>
            ) : null}
            {shown ? (
              dayView.view ? (
                <RoomGroups view={dayView.view} now={now} staff={staff} open={setDialog} today={false} />
              ) : null
            ) : (
              <RoomGroups view={view} now={now} staff={staff} open={setDialog} today={true} />
            )}
          </section>
          <aside class="side">
            <AttentionPanel view={view} now={now} staff={staff} session={session} open={setDialog} />
            <DecisionFeed view={view} now={now} />
          </aside>
        </main>
      )}
      {view && dialog ? (
        <Dialogs state={dialog} view={view} now={now} session={session} close={() => setDialog(undefined)} open={setDialog} />
      ) : null}
    </>
  );
}

void startPage((root, session) => render(<Board session={session} />, root));
