import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { standardWebhookHeaders } from './automation-delivery.ts';
import { matches } from './automation-dispatch.ts';

const ENV = { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml', CRM_TOKEN: 't0ken', HOOK: 'https://hooks.example/T1/B2/C3' };
const load = (yamlText: string, env: Record<string, string> = ENV) => loadConfig(env, { yamlText });

describe('automation config', () => {
  it('lists every fault at start: unknown fields per trigger, unknown triggers, unset secrets, actions, secrets', () => {
    const result = load(`
automations:
  - name: crm
    on: [BOOKING_CREATED, room.blocked]
    http: { url: "https://crm.example/c", body: { who: "{{atendee.name}}", title: "{{booking.title}}" } }
  - name: crm
    on: [BOOKING_CREATD]
    slack: { webhookUrl: "\${SLACK_URL}", text: "{{ booking.title | upper }}" }
  - name: both
    on: [room.moved]
    http: { url: "https://x.example" }
    slack: { webhookUrl: "https://y.example", text: "hi" }
  - name: mirror
    on: [room.moved]
    forward: { url: "ftp://mirror.example", secret: "not-a-whsec" }
  - name: evil-host
    on: [BOOKING_CREATED]
    http: { method: GET, url: "https://{{attendee.email}}/x", body: { a: 1 } }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.faults.map((f) => f.replace(/^\/x\.yaml: /, ''))).toEqual([
      'automations.0.http.body: {{atendee.name}} is not a field of BOOKING_CREATED, room.blocked',
      'automations.0.http.body: {{booking.title}} is not a field of room.blocked',
      'automations.1.name: "crm" is used twice',
      'automations.1.on: unknown trigger BOOKING_CREATD (Cal.com\'s: BOOKING_CREATED, BOOKING_REQUESTED, BOOKING_RESCHEDULED, BOOKING_CANCELLED, BOOKING_REJECTED, BOOKING_PAID, BOOKING_PAYMENT_INITIATED, …; Usher\'s: booking.approved, booking.declined, room.assigned, room.moved, booking.unassigned, room.blocked, job.dead)',
      'automations.1.slack.webhookUrl: environment variable SLACK_URL is not set',
      'automations.1.slack.webhookUrl: not a URL',
      'automations.1.slack.text: "{{ booking.title | upper }}" has a {{ that is not a placeholder like {{booking.title}}',
      'automations.2: give exactly one action of http, slack, forward (found http, slack)',
      'automations.3.forward.url: must be an http(s) URL',
      'automations.3.forward.secret: must be a Standard Webhooks secret, "whsec_" followed by base64 of 16–64 bytes',
      'automations.3.forward: only Cal.com events can be forwarded (not room.moved)',
      'automations.4.http.url: the scheme and host cannot come from a template',
      'automations.4.http.body: a GET sends no body',
    ]);
  });

  it('resolves secrets from the environment and keeps them out of the verbatim config', () => {
    const result = load(`
automations:
  - name: crm
    on: [BOOKING_CREATED]
    when: { eventTypeId: [7, 8], metadata: { plan: gold } }
    http: { url: "https://crm.example/c", headers: { Authorization: "Bearer \${CRM_TOKEN}" }, body: { n: "{{attendee.name}}" } }
`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [crm] = result.config.automations;
    expect(crm!.action).toMatchObject({ type: 'http', headers: { Authorization: 'Bearer t0ken' } });
    expect(JSON.stringify(result.config.file)).not.toContain('t0ken');
    const ctx = (eventTypeId: number, plan: string) => ({ booking: { eventTypeId, metadata: { plan } }, organizer: { id: 5 } });
    expect(matches(crm!, 'BOOKING_CREATED', ctx(8, 'gold'))).toBe(true);
    expect(matches(crm!, 'BOOKING_CREATED', ctx(9, 'gold'))).toBe(false);
    expect(matches(crm!, 'BOOKING_CREATED', ctx(7, 'silver'))).toBe(false);
    expect(matches(crm!, 'BOOKING_CANCELLED', ctx(7, 'gold'))).toBe(false);
  });
});

describe('Standard Webhooks signature', () => {
  it('matches the specification\'s published example', () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    const headers = standardWebhookHeaders(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '{"test": 2432232314}', new Date(1614265330 * 1000));
    expect(headers).toEqual({ 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' });
  });
});
