import { actionableTriggers } from '../domain/booking-event.ts';
import { isUsherError } from '../errors.ts';
import type { CalClient, CalWebhook } from './api-client.ts';

/** One line of `usher connect` / `usher doctor`: what was checked, whether it is right, and what to do if not. */
export interface Check {
  check: string;
  ok: boolean;
  detail: string;
  /** `usher connect` changed something in Cal.com to make it right. */
  changed?: boolean;
  /** Cal.com does not say enough to be sure: a person should look. */
  unsure?: boolean;
}

export interface CalCheckOptions {
  /** Where Cal.com reaches this Usher, e.g. https://usher.example (its webhook is at /webhooks/cal). */
  publicUrl: string | undefined;
  webhookSecret: string | undefined;
  /** The event types the config names (gated, or given room rules): the key must be able to act on their bookings. */
  eventTypeIds: readonly number[];
  /** `cal.organizationId`: the organisation whose bookings Usher looks after. */
  organizationId?: number | undefined;
  /** Make the webhook subscription right (usher connect); false only reports (usher doctor). */
  apply: boolean;
}

const why = (error: unknown) => (isUsherError(error) ? error.message : String(error));

/**
 * Cal.com as Usher needs it: the key works, one webhook subscription reaches this Usher with the
 * triggers Usher handles and its secret (CONTRACT §4.2 "Webhooks management"), and the configured
 * event types are the key owner's, or the key is an organisation admin's, so Usher may confirm,
 * decline and move their bookings. Each check says what to do when it fails.
 */
export async function calChecks(cal: CalClient, o: CalCheckOptions): Promise<Check[]> {
  const checks: Check[] = [];
  let me: Awaited<ReturnType<CalClient['getMe']>>;
  try {
    me = await cal.getMe();
    checks.push({
      check: 'Cal.com API key',
      ok: true,
      detail: `belongs to ${me.username} (${me.email})${me.organizationId ? `, organisation ${me.organizationId}` : ''}`,
    });
  } catch (error) {
    checks.push({
      check: 'Cal.com API key',
      ok: false,
      detail: `${why(error)} — set CAL_API_KEY to a key from Cal.com's Settings → Developer → API keys`,
    });
    return checks;
  }

  const organisation = organisationCheck(me, o.organizationId);
  if (organisation) {
    checks.push(organisation);
    if (!organisation.ok && o.organizationId !== undefined) return checks; // every organisation call would fail
  }
  checks.push(await webhookCheck(cal, o));

  if (o.eventTypeIds.length) {
    try {
      const own = new Set((await cal.listEventTypes()).map((e) => Number(e.id)));
      const others = o.eventTypeIds.filter((id) => !own.has(id));
      if (others.length === 0) checks.push({ check: 'event types', ok: true, detail: `the key owns ${o.eventTypeIds.join(', ')}` });
      else if (me.organizationId)
        // CONTRACT §4.2: an organisation's admin or owner may act on its members' bookings; /v2/me
        // says the key is in an organisation, not its role there, so this is said, not assumed.
        checks.push({
          check: 'event types',
          ok: true,
          unsure: true,
          detail: `${others.join(', ')} belong to other members of organisation ${me.organizationId}: Usher can act on their bookings only if this key is the organisation's admin's or owner's — check its role in Cal.com`,
        });
      else
        checks.push({
          check: 'event types',
          ok: false,
          detail: `${others.join(', ')} are not ${me.username}'s: Usher could not confirm, decline or move their bookings — use their owner's key, or an organisation admin's`,
        });
    } catch (error) {
      checks.push({ check: 'event types', ok: false, detail: why(error) });
    }
  }
  return checks;
}

/**
 * A user's webhook hears only the key owner's bookings; an organisation's hears every member's
 * (CONTRACT §4.2 "Webhooks management"). A key in an organisation with no `cal.organizationId` is
 * the quiet failure: Usher would never hear of the other doctors' bookings.
 */
function organisationCheck(
  me: { username: string; organizationId?: number | null | undefined },
  configured: number | undefined,
): Check | undefined {
  const check = 'organisation';
  const org = me.organizationId ?? undefined;
  if (configured === undefined) {
    if (org === undefined) return undefined;
    return {
      check,
      ok: false,
      detail: `the key is in organisation ${org}, but cal.organizationId is not set: Usher's webhook and reconciler see only ${me.username}'s bookings — set cal: { organizationId: ${org} } to look after every member's`,
    };
  }
  if (org !== configured)
    return {
      check,
      ok: false,
      detail: `cal.organizationId is ${configured}, but the key is ${org === undefined ? 'in no organisation' : `in organisation ${org}`}: use a key of an admin of organisation ${configured}, or correct cal.organizationId`,
    };
  return { check, ok: true, detail: `organisation ${org}: its webhooks and booking list cover every member` };
}

async function webhookCheck(cal: CalClient, o: CalCheckOptions): Promise<Check> {
  const check = 'webhook subscription';
  if (!o.publicUrl)
    return { check, ok: false, detail: 'USHER_PUBLIC_URL is not set: say where Cal.com reaches this Usher (e.g. https://usher.example)' };
  const subscriberUrl = `${o.publicUrl.replace(/\/+$/, '')}/webhooks/cal`;
  let hooks: CalWebhook[];
  try {
    hooks = await cal.listWebhooks();
  } catch (error) {
    return { check, ok: false, detail: why(error) };
  }
  const hook = hooks.find((h) => h.subscriberUrl === subscriberUrl);
  const wanted = [...actionableTriggers];
  if (!hook) {
    if (!o.apply) return { check, ok: false, detail: `none reaches ${subscriberUrl}: usher connect creates it` };
    try {
      await cal.createWebhook({ subscriberUrl, triggers: wanted, active: true, ...(o.webhookSecret ? { secret: o.webhookSecret } : {}) });
      return {
        check,
        ok: true,
        changed: true,
        detail: `created for ${subscriberUrl} with ${wanted.length} triggers${o.webhookSecret ? ' and the secret' : ''}`,
      };
    } catch (error) {
      return { check, ok: false, detail: why(error) };
    }
  }
  const missing = wanted.filter((t) => !hook.triggers.includes(t));
  const problems = [
    ...(hook.active ? [] : ['it is switched off']),
    ...(missing.length ? [`it lacks ${missing.join(', ')}`] : []),
    // CONTRACT §4.2: the secret comes back in clear, so it can be compared.
    ...(o.webhookSecret && hook.secret !== o.webhookSecret ? ['its secret is not CAL_WEBHOOK_SECRET'] : []),
  ];
  if (hook.payloadTemplate)
    return {
      check,
      ok: false,
      detail: `it has a custom payload template, which Usher cannot read (CONTRACT §2.5): remove it in Cal.com's webhook settings`,
    };
  if (problems.length === 0)
    return { check, ok: true, detail: `${subscriberUrl}, active, every trigger Usher handles, the secret matches` };
  if (!o.apply) return { check, ok: false, detail: `${problems.join('; ')}: usher connect puts it right` };
  try {
    await cal.updateWebhook(hook.id, {
      active: true,
      triggers: [...new Set([...hook.triggers, ...wanted])],
      ...(o.webhookSecret ? { secret: o.webhookSecret } : {}),
    });
    return { check, ok: true, changed: true, detail: `${subscriberUrl}: ${problems.join('; ')} — put right` };
  } catch (error) {
    return { check, ok: false, detail: why(error) };
  }
}
