import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { refusalOf } from '../bookings/checkout.ts';
import { buildRequest, standardWebhookHeaders } from './automation-delivery.ts';
import { matches } from './automation-dispatch.ts';

const ENV = {
  CAL_WEBHOOK_SECRET: 'x',
  USHER_ADMIN_TOKEN: 'x'.repeat(20),
  USHER_CONFIG: '/x.yaml',
  CRM_TOKEN: 't0ken',
  HOOK: 'https://hooks.example/T1/B2/C3',
};
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
      "automations.1.on: unknown trigger BOOKING_CREATD (Cal.com's: BOOKING_CREATED, BOOKING_REQUESTED, BOOKING_RESCHEDULED, BOOKING_CANCELLED, BOOKING_REJECTED, BOOKING_PAID, BOOKING_PAYMENT_INITIATED, …; Usher's: booking.approved, booking.declined, room.assigned, room.moved, booking.unassigned, room.blocked, job.dead)",
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
  it("matches the specification's published example", () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    const headers = standardWebhookHeaders(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '{"test": 2432232314}', new Date(1614265330 * 1000));
    expect(headers).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });
});

describe('requests an automation makes', () => {
  it('renders Slack blocks as JSON and sends a GET without a body', async () => {
    const result = load(`
automations:
  - name: desk
    on: [room.moved]
    slack:
      webhookUrl: "\${HOOK}"
      text: "{{room.to}}"
      blocks: [{ type: section, text: { type: mrkdwn, text: "*{{attendee.name}}* → {{room.to}}" } }]
  - name: ping
    on: [BOOKING_CREATED]
    http: { method: GET, url: "https://crm.example/ping/{{booking.uid}}?e={{attendee.email}}" }
`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [desk, ping] = result.config.automations;
    const context = { attendee: { name: 'Ann "A" Lee', email: 'a+b@example.com' }, room: { to: '2B' }, booking: { uid: 'u/1' } };
    const p = (automation: string) => ({ automation, event: 'x', deliveryId: `usher-${automation}-ue_1`, context });
    const slack = await buildRequest(undefined as never, desk!, p('desk'), new Date());
    expect(slack.url).toBe('https://hooks.example/T1/B2/C3');
    expect(JSON.parse(slack.body!)).toEqual({
      text: '2B',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Ann "A" Lee* → 2B' } }],
    });
    const get = await buildRequest(undefined as never, ping!, p('ping'), new Date());
    expect(get).toEqual({
      method: 'GET',
      url: 'https://crm.example/ping/u%2F1?e=a%2Bb%40example.com',
      headers: { 'user-agent': 'Usher-Automations/1', 'idempotency-key': 'usher-ping-ue_1' },
    });
  });
});

describe("Cal.com's refusals of a checkout (CONTRACT §4.2)", () => {
  it('are told apart by their message', () => {
    expect(refusalOf('booking_time_out_of_bounds_error')).toEqual({ status: 422, code: 'OUT_OF_BOUNDS' });
    expect(refusalOf('responses - {title}error_required_field')).toEqual({ status: 400, code: 'MISSING_FIELD' });
    expect(refusalOf('Attempting to book a meeting in the past.')).toEqual({ status: 422, code: 'IN_THE_PAST' });
    expect(refusalOf('User either already has booking at this time or is not available')).toEqual({ status: 409, code: 'SLOT_TAKEN' });
    expect(refusalOf('no_available_users_found_error')).toEqual({ status: 409, code: 'SLOT_TAKEN' });
    expect(refusalOf('Something else')).toEqual({ status: 422, code: 'CAL_REFUSED' });
  });
});
