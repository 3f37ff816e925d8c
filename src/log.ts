import pino, { type Logger } from 'pino';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'usher' },
      // An error logs its type, message, stack and the chain of causes (what failed underneath).
      serializers: { err: pino.stdSerializers.errWithCause },
      // Secrets never reach a log line, whatever a caller passes in.
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-cal-signature-256"]',
          '*.apiKey',
          '*.webhookSecret',
          '*.adminToken',
          'apiKey',
          'secret',
          'token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
