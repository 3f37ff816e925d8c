import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Bearer check in constant time (hashing first makes the lengths equal). */
export function bearerGuard(token: string | undefined) {
  const expected = token ? digest(token) : undefined;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!expected || !given || !timingSafeEqual(digest(given), expected)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="usher"')
        .send({ error: { code: 'UNAUTHORIZED', message: expected ? 'a valid admin bearer token is required' : 'the admin API is disabled: set USHER_ADMIN_TOKEN' } });
    }
  };
}
