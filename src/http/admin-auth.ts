import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, httpStatusOf } from '../errors.ts';
import type { AuthThrottle } from '../domain/auth-throttle.ts';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Bearer check in constant time (hashing first makes the lengths equal), behind a throttle on
 * failed attempts per client address. Every answer of the admin API can carry personal data
 * (names, e-mails, bookings): none may be kept by a cache.
 */
export type AdminGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** One guard, and so one throttle, for every admin route of an app: a guesser moving between routes counts once. */
export function bearerGuard(token: string | undefined, adminThrottle: AuthThrottle, now: () => number): AdminGuard {
  const expected = token ? digest(token) : undefined;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store');
    const wait = adminThrottle.waitSeconds(req.ip, now());
    if (wait > 0) {
      return reply
        .code(httpStatusOf('THROTTLED'))
        .header('retry-after', String(wait))
        .send(errorBody('THROTTLED', `too many failed authentications from this address; try again in ${wait} s`));
    }
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!expected || !given || !timingSafeEqual(digest(given), expected)) {
      if (expected) adminThrottle.failed(req.ip, now());
      return reply
        .code(httpStatusOf('UNAUTHORIZED'))
        .header('www-authenticate', 'Bearer realm="usher"')
        .send(
          errorBody(
            'UNAUTHORIZED',
            expected ? 'a valid admin bearer token is required' : 'the admin API is disabled: set USHER_ADMIN_TOKEN',
          ),
        );
    }
  };
}
