import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { act, loadSession, type BoardView, type Session } from './api.ts';
import { Dialogs, type DialogState } from './dialogs.tsx';
import { day, timeWithSeconds } from './format.ts';
import { RoomGroups } from './rooms.tsx';
import { AttentionPanel, DecisionFeed } from './side.tsx';

type Connection = 'connecting' | 'live' | 'reconnecting';

/**
 * The view arrives whole over server-sent events, on connect and after every change. The browser
 * reconnects by itself (the server asks for 1 s); a stream the server refused (signed out) is
 * replaced after a session check, so a restart of Usher never needs a reload.
 */
function useLiveView(): { view: BoardView | undefined; connection: Connection } {
  const [view, setView] = useState<BoardView>();
  const [connection, setConnection] = useState<Connection>('connecting');
  useEffect(() => {
    let source: EventSource | undefined;
    let retry: number | undefined;
    const open = () => {
      source = new EventSource('/board/events');
      source.addEventListener('open', () => setConnection('live'));
      source.addEventListener('view', (e) => {
        setView(JSON.parse((e as MessageEvent<string>).data) as BoardView);
        setConnection('live');
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
  return { view, connection };
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
        <p class={`connection ${connection}`} role="status" aria-live="polite" data-testid="connection">
          {CONNECTION_TEXT[connection]}
        </p>
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
            <RoomGroups view={view} now={now} staff={staff} open={setDialog} />
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

async function start() {
  const root = document.getElementById('app')!;
  const session = await loadSession().catch(() => null);
  if (session === undefined) {
    location.reload();
    return;
  }
  if (session === null) {
    root.innerHTML = '<p class="loading">Usher cannot be reached. This page tries again in a few seconds.</p>';
    window.setTimeout(start, 3000);
    return;
  }
  root.textContent = '';
  render(<Board session={session} />, root);
}

void start();
