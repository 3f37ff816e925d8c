import { request } from 'undici';
import { UsherError } from '../errors.ts';

/** Talks to a running `usher serve` when it holds the embedded store (CLI commands go through it). */
export class AdminClient {
  readonly #baseUrl: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  async call<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    if (!this.#token) {
      throw new UsherError(
        'ADMIN_UNREACHABLE',
        'the store is held by a running usher; set USHER_ADMIN_TOKEN to reach it through its admin API',
      );
    }
    let response;
    try {
      response = await request(this.#baseUrl + path, {
        method,
        headers: {
          ...headers,
          authorization: `Bearer ${this.#token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (error) {
      throw new UsherError('ADMIN_UNREACHABLE', `cannot reach usher at ${this.#baseUrl} (${(error as Error).message})`, { cause: error });
    }
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
