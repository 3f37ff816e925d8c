import type { BoardView } from '../board-view.ts';

export type { BoardView };
export type ViewBooking = BoardView['bookings'][string];
export type ViewRoom = BoardView['groups'][number]['rooms'][number];

export interface Session {
  name: string;
  role: 'staff' | 'display';
  csrfToken: string;
  title: string;
  /** The clinic's time zone. */
  timeZone: string;
  /** Usher's clock minus this screen's, in ms (measured when the session loads). */
  clockOffset: number;
}

export class ActionError extends Error {
  readonly faults: string[];
  constructor(message: string, faults: string[] = []) {
    super(message);
    this.faults = faults;
  }
}

export async function loadSession(): Promise<Session | undefined> {
  const sent = Date.now();
  const res = await fetch('/board/api/session', { credentials: 'same-origin' });
  if (res.status === 401) return undefined;
  if (!res.ok) throw new ActionError(`the board could not load (${res.status})`);
  const data = ((await res.json()) as { data: Omit<Session, 'clockOffset'> & { now: string } }).data;
  return { ...data, clockOffset: Date.parse(data.now) - (sent + Date.now()) / 2 };
}

/** Every action: JSON, the session cookie, and the CSRF token only this page can read. */
export async function act<T = unknown>(session: Session, path: string, body: unknown = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-usher-csrf': session.csrfToken },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ActionError('Usher cannot be reached; nothing was changed. Try again.');
  }
  if (res.status === 401) {
    location.reload();
    throw new ActionError('signed out');
  }
  const answer = (await res.json().catch(() => ({}))) as { data?: T; error?: { message?: string; faults?: string[] } };
  if (!res.ok) throw new ActionError(answer.error?.message ?? `refused (${res.status})`, answer.error?.faults ?? []);
  return answer.data as T;
}

/**
 * Starts a page of the board once its session is known: signed out, back to the sign-in; Usher
 * unreachable, a line that says so and another try in a few seconds.
 */
export async function startPage(show: (root: HTMLElement, session: Session) => void): Promise<void> {
  const root = document.getElementById('app')!;
  const session = await loadSession().catch(() => null);
  if (session === undefined) {
    location.href = '/board';
    return;
  }
  if (session === null) {
    root.innerHTML = '<p class="loading">Usher cannot be reached. This page tries again in a few seconds.</p>';
    window.setTimeout(() => void startPage(show), 3000);
    return;
  }
  root.textContent = '';
  show(root, session);
}
