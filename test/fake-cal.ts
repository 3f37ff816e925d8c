import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  at: number;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  /** The answer is sent once this settles: a test holds a call in flight for as long as it needs. */
  heldUntil?: Promise<unknown>;
}

export type Responder = (req: RecordedRequest) => FakeResponse;

export function bookingData(uid: string, extra: Record<string, unknown> = {}) {
  return {
    id: 1,
    uid,
    title: 'Consultation',
    status: 'accepted',
    start: '2026-12-01T09:00:00.000Z',
    end: '2026-12-01T09:30:00.000Z',
    duration: 30,
    eventTypeId: 7,
    hosts: [],
    attendees: [],
    location: null,
    ...extra,
  };
}

/** Answers like Cal.com for whatever the test's responder says; records every request. */
export const okResponder: Responder = (req) => {
  const uid = decodeURIComponent(req.path.split('/')[3] ?? 'x');
  const location = (req.body as { location?: { address?: string } } | undefined)?.location?.address ?? null;
  return { status: 200, body: { status: 'success', data: bookingData(uid, { location }) } };
};

export class FakeCal {
  readonly requests: RecordedRequest[] = [];
  responder: Responder = okResponder;
  #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const recorded: RecordedRequest = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          headers: req.headers,
          body: text ? JSON.parse(text) : undefined,
          at: Date.now(),
        };
        this.requests.push(recorded);
        const answer = this.responder(recorded);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
        };
        if (answer.heldUntil) void answer.heldUntil.then(send, send);
        else if (answer.delayMs) setTimeout(send, answer.delayMs);
        else send();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
