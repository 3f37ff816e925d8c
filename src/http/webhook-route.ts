import { errorBody, httpStatusOf } from '../errors.ts';
import type { FastifyInstance } from 'fastify';
import { rawDedupeKey, webhookDedupeKey } from '../cal/dedupe-key.ts';
import { parseWebhook, type ParsedWebhook } from '../cal/parse-webhook.ts';
import { verifySignature } from '../cal/verify-signature.ts';
import { eventBookingUid } from '../domain/booking-event.ts';
import type { InboxWriter, NewInboxEvent } from '../store/inbox.ts';
import { planDayOf } from '../store/rooms.ts';
import type { Metrics } from './metrics.ts';

export interface WebhookRouteOptions {
  secret: string | undefined;
  maxBodyBytes: number;
  repeatWindowSeconds: number;
  maxAttempts: number;
  inbox: InboxWriter;
  metrics: Metrics;
  now: () => Date;
  /** Called after an event is stored, to wake the worker early. */
  onStored: () => void;
}

/**
 * POST /webhooks/cal: verify on the exact bytes, store, answer. Nothing is decided here; the worker
 * does that from the inbox (DESIGN §2). The body parser is scoped to this route so the raw bytes are
 * never re-serialised before the signature check (CONTRACT §2.2).
 */
export async function webhookRoute(app: FastifyInstance, o: WebhookRouteOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: o.maxBodyBytes }, (_req, body, done) => done(null, body));

  app.setErrorHandler((error: { statusCode?: number; code?: string }, _req, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      o.metrics.webhooks.inc({ result: 'too_large' });
      return reply.code(httpStatusOf('PAYLOAD_TOO_LARGE')).send(errorBody('PAYLOAD_TOO_LARGE', `body exceeds ${o.maxBodyBytes} bytes`));
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(status).send(status === 500 ? errorBody('INTERNAL', 'internal error') : errorBody('BAD_REQUEST', 'bad request'));
  });

  app.post('/webhooks/cal', async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (o.secret !== undefined) {
      const header = req.headers['x-cal-signature-256'];
      const check = verifySignature(raw, Array.isArray(header) ? header[0] : header, o.secret);
      if (!check.ok) {
        o.metrics.webhooks.inc({ result: 'rejected_signature' });
        req.log.warn({ reason: check.reason }, 'webhook signature refused');
        return reply.code(httpStatusOf('SIGNATURE_INVALID')).send(errorBody('SIGNATURE_INVALID', `signature ${check.reason}`));
      }
    }
    const text = raw.toString('utf8');
    let body: unknown;
    let notJson = false;
    try {
      body = JSON.parse(text);
    } catch {
      notJson = true;
    }

    // Checked before anything else reads the body (parsing and hashing recurse): signed by Cal.com
    // but something the worker would trip on at every attempt is kept where an operator sees it,
    // with why, instead of retried in vain or answered 4xx/500 and lost (Cal.com never resends).
    const fault = notJson ? notJsonFault(req.headers['content-type']) : bodyFault(body);
    let parsed: ParsedWebhook = fault
      ? { outcome: 'invalid', trigger: notJson ? undefined : triggerOf(body), bookingUid: undefined, problems: [fault] }
      : parseWebhook(body);
    // Not understood: say first when a custom template made it so (valid bodies are never second-guessed).
    const template = parsed.outcome === 'invalid' && !notJson ? templateFault(body) : undefined;
    if (parsed.outcome === 'invalid' && template) parsed = { ...parsed, problems: [template, ...parsed.problems] };
    const receivedAt = o.now();
    const common = { source: 'webhook' as const, rawBody: text, maxAttempts: o.maxAttempts, receivedAt };
    let row: NewInboxEvent;
    switch (parsed.outcome) {
      case 'event': {
        const uid = eventBookingUid(parsed.event);
        row = {
          ...common,
          dedupeKey: webhookDedupeKey(parsed.event.trigger, uid, body as Record<string, unknown>, {
            receivedAt,
            repeatWindowSeconds: o.repeatWindowSeconds,
          }),
          trigger: parsed.event.trigger,
          bookingUid: uid,
          // Workers claim by the booking's day (migration 0021), so processes decide different days at once.
          ...('booking' in parsed.event ? { planDay: planDayOf(parsed.event.booking.start) } : {}),
          state: 'pending',
        };
        break;
      }
      case 'unknown-trigger':
        row = {
          ...common,
          dedupeKey: rawDedupeKey(raw),
          trigger: parsed.trigger.slice(0, 100),
          bookingUid: undefined,
          state: 'ignored',
          lastError: 'unknown trigger',
        };
        break;
      case 'invalid':
        // Signed by Cal.com but not understood: keep it where an operator sees it; a 4xx would lose it.
        row = {
          ...common,
          dedupeKey: rawDedupeKey(raw),
          trigger: (parsed.trigger ?? 'UNKNOWN').slice(0, 100),
          bookingUid: parsed.bookingUid,
          state: 'unprocessable',
          lastError: parsed.problems.join('; ').slice(0, 2000),
        };
        break;
    }

    let stored: Awaited<ReturnType<typeof o.inbox.add>>;
    try {
      stored = await o.inbox.add(row);
    } catch (error) {
      // Not stored, so not acknowledged: a 503 at least shows in Cal.com's delivery log.
      o.metrics.webhooks.inc({ result: 'store_unavailable' });
      req.log.error({ err: error }, 'inbox write failed');
      return reply.code(httpStatusOf('STORE_UNAVAILABLE')).send(errorBody('STORE_UNAVAILABLE', 'could not store the event; not accepted'));
    }
    const result = stored.duplicate ? 'duplicate' : row.state === 'pending' ? 'accepted' : row.state;
    o.metrics.webhooks.inc({ result });
    if (!stored.duplicate && row.state === 'pending') o.onStored();
    return reply.code(200).send({ received: true, id: stored.id, status: result });
  });
}

const TEMPLATE_FIX =
  "remove the webhook's custom payload template in Cal.com (Settings → Developer → Webhooks): Usher reads Cal.com's own body, then replay this event";

/**
 * CONTRACT §2.5: a webhook with a `payloadTemplate` that is not JSON sends the rendered text as
 * `application/x-www-form-urlencoded`; one whose rendering breaks the JSON sends the body `false`.
 * Either way Cal.com signed it and will not resend it: it is kept, with what to do.
 */
function notJsonFault(contentType: string | undefined): string {
  const form = contentType?.startsWith('application/x-www-form-urlencoded');
  return `not JSON${form ? ' (form-encoded: a custom payload template that is not JSON, CONTRACT §2.5)' : ''}: ${TEMPLATE_FIX}`;
}

/** A body a custom template made (CONTRACT §2.5): `false`, or the booking's fields flattened without the envelope. */
function templateFault(body: unknown): string | undefined {
  if (body === false)
    return `the body is \`false\`: Cal.com's custom payload template rendered invalid JSON (CONTRACT §2.5); ${TEMPLATE_FIX}`;
  // MEETING_* bodies have no envelope by design (CONTRACT §3.4), and templates never apply to them.
  const meeting = (body as { triggerEvent?: unknown } | null)?.triggerEvent;
  if (meeting === 'MEETING_STARTED' || meeting === 'MEETING_ENDED') return undefined;
  if (
    body &&
    typeof body === 'object' &&
    !Array.isArray(body) &&
    !('payload' in body) &&
    ('uid' in body || 'attendees' in body || 'organizer' in body)
  ) {
    return `a custom payload template's flattened body (no triggerEvent/payload envelope, CONTRACT §2.5); ${TEMPLATE_FIX}`;
  }
  return undefined;
}

/**
 * Deeper than any body Cal.com sends (its payloads nest a handful of levels: responses, metadata);
 * PostgreSQL's jsonb and the handlers' recursion have limits of their own far below 100,000.
 */
export const MAX_BODY_DEPTH = 64;

/**
 * What makes a parsed body unstorable or unhandleable, if anything: U+0000 in a key or a string
 * (PostgreSQL's text refuses it), or nesting deeper than MAX_BODY_DEPTH. One iterative walk.
 */
function triggerOf(body: unknown): string | undefined {
  const t = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).triggerEvent : undefined;
  return typeof t === 'string' ? t : undefined;
}

function bodyFault(value: unknown): string | undefined {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > MAX_BODY_DEPTH) return `the body nests deeper than ${MAX_BODY_DEPTH} levels`;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return 'a value holds the character U+0000, which Usher cannot store as text';
    } else if (Array.isArray(v)) {
      for (const inner of v) stack.push([inner, depth + 1]);
    } else if (v && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) {
        if (k.includes('\u0000')) return 'a key holds the character U+0000, which Usher cannot store as text';
        stack.push([inner, depth + 1]);
      }
    }
  }
  return undefined;
}
