import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthThrottle } from '../domain/auth-throttle.ts';
import type { Db } from '../store/db.ts';
import { createBoardSession, deleteBoardSession, getBoardSession, type BoardRole, type BoardSession } from '../store/board-sessions.ts';
import { tokenHash, type BoardSettings } from './board-config.ts';

export const SESSION_COOKIE = 'usher_board';

export interface Viewer {
  name: string;
  role: BoardRole;
  csrfToken: string;
}

interface Credential {
  name: string;
  role: BoardRole;
  hash: Buffer;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
// A prefix of the token's hash ties a session to its token without storing anything replayable.
const fingerprint = (hashHex: string) => hashHex.slice(0, 16);

function readCookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function isHttps(req: FastifyRequest): boolean {
  // Only ever adds Secure: a forged header can lock its sender out, never weaken anyone else's cookie.
  return req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
}

/**
 * Board sign-in: a token (the admin token, or a user's from `board.users`) buys a session cookie,
 * httpOnly and SameSite=Lax (a link from an e-mail still opens the board; no other site can post
 * with it). Actions also need the session's CSRF token in a header, which only the page can read.
 */
export class BoardAuth {
  readonly #db: Db;
  readonly #settings: BoardSettings;
  readonly #credentials: Credential[];
  readonly #throttle = new AuthThrottle();

  constructor(db: Db, settings: BoardSettings, adminToken: string | undefined) {
    this.#db = db;
    this.#settings = settings;
    this.#credentials = [
      ...(adminToken ? [{ name: 'admin', role: 'staff' as const, hash: Buffer.from(tokenHash(adminToken), 'hex') }] : []),
      ...settings.users.map((u) => ({ name: u.name, role: u.role, hash: Buffer.from(u.tokenHash, 'hex') })),
    ];
  }

  get enabled(): boolean {
    return this.#credentials.length > 0;
  }

  /** Seconds the client must wait before trying another token (src/http/auth-throttle.ts), 0 if none. */
  throttled(req: FastifyRequest, now: number): number {
    return this.#throttle.waitSeconds(req.ip, now);
  }

  /** Checks every credential (no early exit, each in constant time): which one, if any, matches. */
  #match(token: string): Credential | undefined {
    const given = Buffer.from(tokenHash(token), 'hex');
    let found: Credential | undefined;
    for (const c of this.#credentials) if (timingSafeEqual(given, c.hash) && !found) found = c;
    return found;
  }

  async signIn(req: FastifyRequest, reply: FastifyReply, token: string, now: Date): Promise<Viewer | undefined> {
    const credential = token ? this.#match(token) : undefined;
    if (!credential) {
      this.#throttle.failed(req.ip, now.getTime());
      return undefined;
    }
    const id = randomBytes(32).toString('base64url');
    const hours = credential.role === 'display' ? this.#settings.displaySessionDays * 24 : this.#settings.staffSessionHours;
    const session: BoardSession = {
      userName: credential.name,
      role: credential.role,
      tokenFingerprint: fingerprint(credential.hash.toString('hex')),
      csrfToken: randomBytes(24).toString('base64url'),
      expiresAt: new Date(now.getTime() + hours * 3_600_000),
    };
    await createBoardSession(this.#db, sha256(id), session, now);
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${id}; Path=/board; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(hours * 3600)}${isHttps(req) ? '; Secure' : ''}`,
    );
    return { name: session.userName, role: session.role, csrfToken: session.csrfToken };
  }

  async signOut(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const id = readCookie(req, SESSION_COOKIE);
    if (id) await deleteBoardSession(this.#db, sha256(id));
    reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/board; HttpOnly; SameSite=Lax; Max-Age=0${isHttps(req) ? '; Secure' : ''}`);
  }

  /** The signed-in viewer, if the cookie names a live session whose token is still configured. */
  async viewer(req: FastifyRequest, now: Date): Promise<Viewer | undefined> {
    const id = readCookie(req, SESSION_COOKIE);
    if (!id || id.length > 100) return undefined;
    const session = await getBoardSession(this.#db, sha256(id), now);
    if (!session) return undefined;
    const still = this.#credentials.find(
      (c) => c.name === session.userName && fingerprint(c.hash.toString('hex')) === session.tokenFingerprint,
    );
    if (!still || still.role !== session.role) return undefined;
    return { name: session.userName, role: session.role, csrfToken: session.csrfToken };
  }

  /** An action must carry the session's CSRF token, and come from this origin when the browser says where from. */
  static sameSite(req: FastifyRequest, viewer: Viewer): boolean {
    const given = Buffer.from(String(req.headers['x-usher-csrf'] ?? ''));
    const expected = Buffer.from(viewer.csrfToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    const origin = req.headers.origin;
    if (!origin) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }
}
