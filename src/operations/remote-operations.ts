import { request } from 'undici';
import { UsherError } from '../errors.ts';
import type { Operations } from './operations.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Talks to a running Usher's admin API (bearer USHER_ADMIN_TOKEN); its refusals keep their code. */
export class AdminClient {
  readonly #baseUrl: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  async call<T = unknown>(method: Method, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    if (!this.#token) throw new UsherError('ADMIN_UNREACHABLE', `set USHER_ADMIN_TOKEN to reach the usher at ${this.#baseUrl}`);
    const json = body !== undefined;
    const response = await request(this.#baseUrl + path, {
      method,
      headers: { ...headers, authorization: `Bearer ${this.#token}`, ...(json ? { 'content-type': 'application/json' } : {}) },
      ...(json ? { body: JSON.stringify(body) } : {}),
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    }).catch((error: Error) => {
      throw new UsherError('ADMIN_UNREACHABLE', `cannot reach usher at ${this.#baseUrl} (${error.message})`, { cause: error });
    });
    const text = await response.body.text();
    const parsed = text ? (JSON.parse(text) as { data?: T; error?: { code: string; message: string; faults?: string[] } }) : {};
    if (response.statusCode >= 400) {
      const code = parsed.error?.code;
      const known = code === 'NOT_FOUND' || code === 'CONFLICT' || code === 'BAD_REQUEST' || code === 'UNAUTHORIZED';
      // Usher's own answer (a refusal, a Cal.com refusal relayed) keeps its code in the message.
      const message = parsed.error?.message ?? `HTTP ${response.statusCode}`;
      throw new UsherError(known ? code : 'ADMIN_UNREACHABLE', known || !code ? message : `${code}: ${message}`, {
        detail: parsed.error?.faults,
      });
    }
    return (parsed.data ?? parsed) as T;
  }
}

const query = (q: Record<string, string | number | boolean | undefined>) => {
  const defined = Object.entries(q).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
  return defined.length ? `?${new URLSearchParams(defined.map(([k, v]) => [k, String(v)]))}` : '';
};
const enc = encodeURIComponent;

/**
 * The operations through another machine's admin API. Answers are the API's JSON: times arrive as
 * ISO strings where the local operations hold Dates (the CLI prints either the same way).
 */
export function remoteOperations(admin: AdminClient): Operations {
  const get = <T>(path: string) => admin.call<T>('GET', path);
  const post = <T>(path: string, body?: unknown) => admin.call<T>('POST', path, body);
  return {
    listEvents: (q) => get(`/api/events${query(q)}`),
    getEvent: (ref) => get(`/api/events/${enc(ref)}`),
    listJobs: (q) => get(`/api/jobs${query(q)}`),
    getJob: (ref) => get(`/api/jobs/${enc(ref)}`),
    replay: (ref) => post(`/api/replay/${enc(ref)}`),
    reconcile: () => post('/api/reconcile'),
    listMembers: (q) => get(`/api/members${query(q)}`),
    importMembers: (csv) => post('/api/members/import', { csv }),
    setMember: (email, changes) => admin.call('PUT', `/api/members/${enc(email)}`, changes),
    adjustCredits: (email, change) => post(`/api/members/${enc(email)}/credits`, change),
    memberAccount: (email) => get(`/api/members/${enc(email)}`),
    heldBookings: () => get('/api/gate/held'),
    approve: (uid, a) => post(`/api/bookings/${enc(uid)}/approve`, a),
    decline: (uid, d) => post(`/api/bookings/${enc(uid)}/decline`, d),
    booking: (uid) => get(`/api/bookings/${enc(uid)}`),
    listRooms: (q) => get(`/api/rooms${query({ all: q.all || undefined })}`),
    putRoom: (name, r) => admin.call('PUT', `/api/rooms/${enc(name)}`, r),
    retireRoom: (name) => admin.call('DELETE', `/api/rooms/${enc(name)}`),
    blockRoom: (room, b) => post(`/api/rooms/${enc(room)}/blocks`, b),
    unblockRoom: (id) => admin.call('DELETE', `/api/rooms/blocks/${id}`),
    changeBlock: (id, b) => admin.call('PUT', `/api/rooms/blocks/${id}`, b),
    markCleaned: (room) => post(`/api/rooms/${enc(room)}/cleaned`),
    moveBooking: (uid, m) => post(`/api/bookings/${enc(uid)}/room`, m),
    roomOptions: (uid) => get(`/api/bookings/${enc(uid)}/rooms`),
    replan: () => post('/api/rooms/replan'),
    insights: (q) => get(`/api/insights${query(q)}`),
    // The replay runs on the server: no progress to show from here, only the answer.
    whatIf: (q) => post('/api/what-if', q),
    listCalendarFeeds: (q) => get(`/api/calendar-feeds${query({ all: q.all || undefined })}`),
    createCalendarFeed: (f) => post('/api/calendar-feeds', f),
    revokeCalendarFeed: (id) => admin.call('DELETE', `/api/calendar-feeds/${id}`),
    slots: (q) => get(`/api/slots${query(q)}`),
    book: (key, body) => admin.call('POST', '/api/bookings', body, { 'idempotency-key': key }),
  };
}
