import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { z } from 'zod';
import { renderJson, renderText } from '../domain/template.ts';
import { isRetryableStatus } from '../domain/retryable-status.ts';
import { UsherError } from '../errors.ts';
import type { JobHandler } from '../jobs/worker.ts';
import type { Db } from '../store/db.ts';
import { getInboxEvent } from '../store/inbox.ts';
import { acquireRateBudget } from '../store/rate-budget.ts';
import type { Automation } from './automation-config.ts';

const payloadSchema = z.object({
  automation: z.string(),
  event: z.string(),
  deliveryId: z.string(),
  context: z.record(z.string(), z.unknown()),
  inboxEventId: z.number().int().optional(),
});

export interface OutboundRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Standard Webhooks (standardwebhooks.com): HMAC-SHA256 of "id.timestamp.body", base64, "v1," first. */
export function standardWebhookHeaders(key: Buffer, id: string, body: string, at: Date): Record<string, string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

const noLineBreaks = (s: string) => s.replace(/[\r\n]+/g, ' ');

/** The request an automation makes for one event; secrets are added here, at send time, never stored. */
export async function buildRequest(db: Db, a: Automation, p: z.infer<typeof payloadSchema>, now: Date): Promise<OutboundRequest> {
  const common = { 'user-agent': 'Usher-Automations/1', 'idempotency-key': p.deliveryId };
  const json = { 'content-type': 'application/json' };
  switch (a.action.type) {
    case 'http': {
      const headers = {
        ...common,
        ...Object.fromEntries(Object.entries(a.action.headers).map(([k, v]) => [k.toLowerCase(), noLineBreaks(renderText(v, p.context))])),
      };
      const url = renderText(a.action.url, p.context, encodeURIComponent);
      if (a.action.body === undefined) return { method: a.action.method, url, headers };
      return { method: a.action.method, url, headers: { ...json, ...headers }, body: JSON.stringify(renderJson(a.action.body, p.context)) };
    }
    case 'slack': {
      const message = {
        ...(a.action.text ? { text: renderText(a.action.text, p.context) } : {}),
        ...(a.action.blocks ? { blocks: renderJson(a.action.blocks, p.context) } : {}),
      };
      return { method: 'POST', url: a.action.url, headers: { ...common, ...json }, body: JSON.stringify(message) };
    }
    case 'forward': {
      // The original bytes as Cal.com sent them: the receiver verifies Usher's signature over exactly these.
      const event = p.inboxEventId ? await getInboxEvent(db, p.inboxEventId) : undefined;
      if (!event) throw new UsherError('TARGET_REFUSED', `${a.name}: the original event ${p.inboxEventId ?? '?'} is no longer stored`);
      return {
        method: 'POST',
        url: a.action.url,
        headers: { ...common, ...json, ...standardWebhookHeaders(Buffer.from(a.action.key, 'base64'), p.deliveryId, event.rawBody, now) },
        body: event.rawBody,
      };
    }
  }
}

/**
 * Delivers one automation job. 2xx is done; what isRetryableStatus says (408/425/429/5xx, timeouts,
 * network errors) is retried
 * with the worker's backoff, then dead-lettered with the last answer; any other 4xx is dead at once.
 * Errors name the target's host only: a Slack webhook's path is its secret.
 */
export function automationJobHandler(o: { db: Db; automations: readonly Automation[] }): JobHandler {
  const byName = new Map(o.automations.map((a) => [a.name, a]));
  return async (job, { now }) => {
    const parsed = payloadSchema.safeParse(job.payload);
    if (!parsed.success) throw new UsherError('PAYLOAD_INVALID', `job ${job.id}: not an automation delivery`);
    const p = parsed.data;
    const a = byName.get(p.automation);
    if (!a) throw new UsherError('TARGET_REFUSED', `automation "${p.automation}" is no longer in the config`);
    if (a.rateLimit) {
      const admitted = await acquireRateBudget(
        o.db,
        [{ key: `automation:${a.name}`, limit: a.rateLimit.requests, windowSeconds: a.rateLimit.perSeconds }],
        now,
      );
      if (!admitted.ok)
        throw new UsherError('RATE_LIMITED', `${a.name}: rate limit, next at ${admitted.retryAt.toISOString()}`, {
          detail: { retryAt: admitted.retryAt },
        });
    }
    const req = await buildRequest(o.db, a, p, now);
    const host = new URL(req.url).host;
    let status: number;
    let text: string;
    try {
      const res = await request(req.url, {
        method: req.method as 'POST',
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        signal: AbortSignal.timeout(a.timeoutMs),
      });
      status = res.statusCode;
      text = (await res.body.text()).slice(0, 2000);
    } catch (error) {
      const why =
        (error as { name?: string }).name === 'TimeoutError'
          ? `no answer in ${a.timeoutMs / 1000} s`
          : ((error as { code?: string }).code ?? (error as Error).name);
      throw new UsherError('TARGET_RETRYABLE', `${a.name}: ${host} unreachable (${why})`);
    }
    const answer = { status, body: text };
    if (status >= 200 && status < 300) return answer;
    if (isRetryableStatus(status)) throw new UsherError('TARGET_RETRYABLE', `${a.name}: ${host} answered ${status}`, { detail: answer });
    throw new UsherError('TARGET_REFUSED', `${a.name}: ${host} refused with ${status}`, { detail: answer });
  };
}
