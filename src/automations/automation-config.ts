import { z } from 'zod';
import type { Env } from '../env.ts';
import { knownTriggers } from '../domain/booking-event.ts';
import { isKnownPath, templatePaths } from '../domain/template.ts';
import { templateFieldsFor, usherEventKinds } from '../domain/usher-events.ts';
import { interpolateEnv } from '../env-interpolation.ts';

const headerValue = z.string().refine((v) => !/[\r\n]/.test(v), 'header values cannot contain line breaks');

export const automationSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][\w.-]{0,59}$/, 'letters, digits, - _ . (up to 60)'),
    on: z.array(z.string()).min(1),
    /** Simple filters on the booking; every one given must match. */
    when: z
      .object({
        eventTypeId: z.union([z.number().int(), z.array(z.number().int()).min(1)]).optional(),
        organizerId: z.union([z.number().int(), z.array(z.number().int()).min(1)]).optional(),
        metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      })
      .strict()
      .default({}),
    timeoutSeconds: z.number().positive().max(120).default(10),
    /** At most `requests` deliveries to this target per `perSeconds`, across all Usher processes. */
    rateLimit: z.object({ requests: z.number().int().positive(), perSeconds: z.number().positive() }).strict().optional(),
    http: z
      .object({
        method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
        url: z.string().min(1),
        headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), headerValue).default({}),
        body: z.unknown().optional(),
      })
      .strict()
      .optional(),
    slack: z
      .object({ webhookUrl: z.string().min(1), text: z.string().optional(), blocks: z.array(z.unknown()).optional() })
      .strict()
      .optional(),
    forward: z
      .object({ url: z.string().min(1), secret: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export const automationsSchema = z.array(automationSchema).default([]);
export type AutomationConfig = z.infer<typeof automationSchema>;

export type AutomationAction =
  | { type: 'http'; method: string; url: string; headers: Record<string, string>; body?: unknown }
  | { type: 'slack'; url: string; text?: string; blocks?: unknown[] }
  /** `key`: the Standard Webhooks secret's bytes, base64 (a frozen config cannot hold a Buffer). */
  | { type: 'forward'; url: string; key: string };

export interface Automation {
  name: string;
  on: readonly string[];
  when: AutomationConfig['when'];
  timeoutMs: number;
  rateLimit?: { requests: number; perSeconds: number };
  action: AutomationAction;
}

function checkUrl(url: string, path: string, faults: string[]): void {
  // Placeholders may sit in the path or query; the scheme and host must be fixed.
  const fixed = url.replace(/\{\{[^}]*\}\}/g, 'x');
  try {
    const u = new URL(fixed);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') faults.push(`${path}: must be an http(s) URL`);
    if (/\{\{/.test(url.split('/').slice(0, 3).join('/'))) faults.push(`${path}: the scheme and host cannot come from a template`);
  } catch {
    faults.push(`${path}: not a URL`);
  }
}

/**
 * Resolves `${ENV}` secrets and checks every template against the fields its triggers carry, so
 * that a typo (`{{atendee.name}}`) stops Usher at start with the others, not at 3 a.m. in a job.
 */
export function resolveAutomations(list: readonly AutomationConfig[], env: Env): { automations: Automation[]; faults: string[] } {
  const faults: string[] = [];
  const automations: Automation[] = [];
  const names = new Set<string>();
  list.forEach((a, i) => {
    const at = `automations.${i}`;
    const env$ = (value: string, path: string) => {
      const r = interpolateEnv(value, env, path);
      faults.push(...r.faults);
      return r.value;
    };
    if (names.has(a.name)) faults.push(`${at}.name: "${a.name}" is used twice`);
    names.add(a.name);
    const unknown = a.on.filter((t) => !templateFieldsFor(t));
    if (unknown.length)
      faults.push(
        `${at}.on: unknown trigger ${unknown.join(', ')} (Cal.com's: ${knownTriggers
          .filter((t) => t !== 'PING')
          .slice(0, 7)
          .join(', ')}, …; Usher's: ${usherEventKinds.join(', ')})`,
      );
    const actions = (['http', 'slack', 'forward'] as const).filter((k) => a[k] !== undefined);
    if (actions.length !== 1) {
      faults.push(`${at}: give exactly one action of http, slack, forward (found ${actions.length ? actions.join(', ') : 'none'})`);
      return;
    }
    const checkTemplate = (template: unknown, path: string) => {
      const { paths, malformed } = templatePaths(template);
      for (const m of malformed)
        faults.push(`${at}.${path}: "${m.slice(0, 60)}" has a {{ that is not a placeholder like {{booking.title}}`);
      for (const p of new Set(paths)) {
        const missing = a.on.filter((t) => templateFieldsFor(t) && !isKnownPath(p, templateFieldsFor(t)!));
        if (missing.length) faults.push(`${at}.${path}: {{${p}}} is not a field of ${missing.join(', ')}`);
      }
    };
    let action: AutomationAction;
    if (a.http) {
      const url = env$(a.http.url, `${at}.http.url`);
      checkUrl(url, `${at}.http.url`, faults);
      checkTemplate(a.http.url, 'http.url');
      checkTemplate(a.http.headers, 'http.headers');
      if (a.http.body !== undefined) checkTemplate(a.http.body, 'http.body');
      if (a.http.body !== undefined && a.http.method === 'GET') faults.push(`${at}.http.body: a GET sends no body`);
      const headers = Object.fromEntries(Object.entries(a.http.headers).map(([k, v]) => [k, env$(v, `${at}.http.headers.${k}`)]));
      action = { type: 'http', method: a.http.method, url, headers, ...(a.http.body !== undefined ? { body: a.http.body } : {}) };
    } else if (a.slack) {
      const url = env$(a.slack.webhookUrl, `${at}.slack.webhookUrl`);
      checkUrl(url, `${at}.slack.webhookUrl`, faults);
      if (!a.slack.text && !a.slack.blocks) faults.push(`${at}.slack: give text, blocks or both`);
      if (a.slack.text) checkTemplate(a.slack.text, 'slack.text');
      if (a.slack.blocks) checkTemplate(a.slack.blocks, 'slack.blocks');
      action = {
        type: 'slack',
        url,
        ...(a.slack.text ? { text: a.slack.text } : {}),
        ...(a.slack.blocks ? { blocks: a.slack.blocks } : {}),
      };
    } else {
      const f = a.forward!;
      const url = env$(f.url, `${at}.forward.url`);
      checkUrl(url, `${at}.forward.url`, faults);
      const secret = env$(f.secret, `${at}.forward.secret`);
      // Standard Webhooks: "whsec_" + base64 of 24–64 random bytes.
      const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.alloc(0);
      if (secret && (key.length < 16 || key.length > 64))
        faults.push(`${at}.forward.secret: must be a Standard Webhooks secret, "whsec_" followed by base64 of 16–64 bytes`);
      const usherOnly = a.on.filter((t) => (usherEventKinds as readonly string[]).includes(t));
      if (usherOnly.length) faults.push(`${at}.forward: only Cal.com events can be forwarded (not ${usherOnly.join(', ')})`);
      action = { type: 'forward', url, key: key.toString('base64') };
    }
    automations.push({
      name: a.name,
      on: a.on,
      when: a.when,
      timeoutMs: a.timeoutSeconds * 1000,
      ...(a.rateLimit ? { rateLimit: a.rateLimit } : {}),
      action,
    });
  });
  return { automations, faults };
}
