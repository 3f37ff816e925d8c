import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Hit {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  /** The status this target answered. */
  answered: number;
}

/**
 * An automation target that records every request and answers what the test says: 200, an error
 * status, or nothing at all (stopped: connection refused), on the same port throughout.
 */
export class Target {
  readonly hits: Hit[] = [];
  status = 200;
  #server: Server | undefined;
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.hits.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw: Buffer.concat(chunks).toString('utf8'),
          answered: this.status,
        });
        res
          .writeHead(this.status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ok: this.status < 300, note: 'from the test target' }));
      });
    });
    await new Promise<void>((r) => this.#server!.listen(this.#port, '127.0.0.1', r));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** Requests that got a 2xx, by path prefix. */
  delivered(pathPrefix = ''): Hit[] {
    return this.hits.filter((h) => h.answered < 300 && h.path.startsWith(pathPrefix));
  }
}
