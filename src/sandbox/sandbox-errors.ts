import type { FastifyReply, FastifyRequest } from 'fastify';

/** CONTRACT §4.1: the error envelope NestJS's filters produce. */
export function calError(reply: FastifyReply, req: FastifyRequest, status: number, code: string, message: string) {
  return reply.code(status).send({
    status: 'error',
    timestamp: new Date().toISOString(),
    path: req.url,
    error: { code, message },
  });
}

/** CONTRACT §4.1: shared booking code throws HttpError, which reaches the client bare. */
export function bareError(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ statusCode: status, message });
}
