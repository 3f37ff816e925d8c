import pino, { type Logger } from 'pino';

/** `john.doe@example.com` → `j***@example.com`: enough for an operator to match, not to read. */
export function maskEmail(email: string | undefined | null): string | undefined {
  if (!email) return undefined;
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'usher' },
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
