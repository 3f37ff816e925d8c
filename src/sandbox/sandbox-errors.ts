import type { FastifyReply, FastifyRequest } from 'fastify';

/** CONTRACT §4.1: the error envelope NestJS's filters produce; `details` on validation failures. */
export function calError(reply: FastifyReply, req: FastifyRequest, status: number, code: string, message: string, details?: unknown) {
  return reply.code(status).send({
    status: 'error',
    timestamp: new Date().toISOString(),
    path: req.url,
    error: { code, message, ...(details !== undefined ? { details } : {}) },
  });
}

/**
 * CONTRACT §4.1: a ValidationPipe failure is a 400 whose `details.errors` are class-validator errors,
 * one per property with its failed constraints.
 */
export function validationError(
  reply: FastifyReply,
  req: FastifyRequest,
  issues: readonly { path: PropertyKey[]; code: string; message: string }[],
) {
  const errors = issues.map((i) => {
    const property = i.path.map(String).join('.') || '(body)';
    return { property, constraints: { [i.code]: `${property} ${i.message}` } };
  });
  return calError(reply, req, 400, 'BadRequestException', errors.map((e) => Object.values(e.constraints)[0]).join('; '), { errors });
}

/** CONTRACT §4.1: shared booking code throws HttpError, which reaches the client bare. */
export function bareError(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ statusCode: status, message });
}
