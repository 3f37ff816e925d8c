import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('lists every fault at once', () => {
    const result = loadConfig(
      { PORT: 'eighty', DATABASE_URL: 'mysql://x', CAL_API_URL: 'ftp://cal', USHER_ADMIN_TOKEN: 'short', USHER_CONFIG: '/x.yaml' },
      {
        yamlText:
          'timeZone: Mars/Olympus\ncal: { bookingsApiVersion: "2023-01-01", rateLimit: { requestsPerWindow: -1 } }\nworker: { maxAttempts: 0 }\n',
      },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.faults.join('\n');
    for (const fragment of [
      'PORT',
      'DATABASE_URL',
      'CAL_API_URL',
      'CAL_WEBHOOK_SECRET',
      'USHER_ADMIN_TOKEN',
      'cal.bookingsApiVersion',
      'cal.rateLimit.requestsPerWindow',
      'worker.maxAttempts',
    ]) {
      expect(text).toContain(fragment);
    }
  });

  it('lists every fault of the gate: policy keys and values per event type, and decline templates', () => {
    const result = loadConfig(
      { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml' },
      {
        yamlText: `
gate:
  unknownMember: maybe
eventTypes:
  "9": { gate: { creditCost: -1, maxBookingsPerMember: { year: 3 } } }
`,
      },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.faults.join('\n')).toContain('gate.unknownMember');

    const second = loadConfig(
      { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml' },
      {
        yamlText: `
gate:
  messages: { credits.insufficient: "only {{available}} of {{cost}}", limit.reached: "ok {{limit}}" }
eventTypes:
  "9": { gate: { creditCost: -1, maxBookingsPerMember: { year: 3 }, minDurationMinutes: 60, maxDurationMinutes: 30 } }
  "10": { gate: { creditCost: 1 } }
`,
      },
    );
    expect(second.ok).toBe(false);
    if (second.ok) return;
    expect(second.faults).toEqual([
      '/x.yaml: gate.messages.credits.insufficient: {{cost}} is not a field here (fields: available, needed)',
      '/x.yaml: eventTypes.9.gate.creditCost: Too small: expected number to be >=0',
      '/x.yaml: eventTypes.9.gate.maxBookingsPerMember.year: unknown key (known here: day, week, month)',
    ]);
    const good = loadConfig(
      { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml' },
      { yamlText: 'gate: { defaults: { bookingWindowDays: 30 } }\neventTypes: { "10": { gate: { creditCost: 2 } } }\n' },
    );
    expect(good.ok && good.config.gate.policies['10']).toMatchObject({
      creditCost: 2,
      bookingWindowDays: 30,
      requireMembership: true,
      limitScope: 'eventType',
    });
  });

  it('requires a webhook secret unless unsigned webhooks are explicitly allowed', () => {
    const base = { USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml' };
    expect(loadConfig(base, { yamlText: '' }).ok).toBe(false);
    const allowed = loadConfig({ ...base, USHER_ALLOW_UNSIGNED_WEBHOOKS: 'true' }, { yamlText: '' });
    expect(allowed.ok && allowed.config.cal.allowUnsignedWebhooks).toBe(true);
    expect(loadConfig({ ...base, USHER_ALLOW_UNSIGNED_WEBHOOKS: 'true', CAL_WEBHOOK_SECRET: 's' }, { yamlText: '' }).ok).toBe(false);
  });

  it('applies defaults and freezes the result', () => {
    const result = loadConfig({ CAL_WEBHOOK_SECRET: 's', USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml' }, { yamlText: '' });
    if (!result.ok) throw new Error(result.faults.join());
    expect(result.config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      cal: {
        apiUrl: 'https://api.cal.com',
        bookingsApiVersion: '2026-02-25',
        rateLimit: { requestsPerWindow: 120, locationRequestsPerWindow: 5, windowSeconds: 60 },
      },
      webhooks: { maxBodyBytes: 1_048_576 },
    });
    expect(Object.isFrozen(result.config.cal.rateLimit)).toBe(true);
  });

  it('reports a config file that is named but missing, and YAML that does not parse', () => {
    const env = { CAL_WEBHOOK_SECRET: 's', USHER_ADMIN_TOKEN: 'x'.repeat(20) };
    const missing = loadConfig({ ...env, USHER_CONFIG: '/definitely/not/here.yaml' });
    expect(!missing.ok && missing.faults[0]).toContain('cannot read');
    const broken = loadConfig({ ...env, USHER_CONFIG: '/x.yaml' }, { yamlText: 'cal: [' });
    expect(!broken.ok && broken.faults[0]).toContain('not valid YAML');
  });

  it('lists the board users whose tokens are unset, short or shared, and never keeps a token in the config', () => {
    const yamlText = `
board:
  users:
    - { name: Anna, token: "\${TOKEN_ANNA}" }
    - { name: Ben, token: "\${TOKEN_BEN}" }
    - { name: Cleo, token: "\${TOKEN_CLEO}", role: display }
    - { name: anna, token: "\${TOKEN_DUP}" }
`;
    const env = {
      CAL_WEBHOOK_SECRET: 'x',
      USHER_ADMIN_TOKEN: 'admin-token-0123456789',
      USHER_CONFIG: '/x.yaml',
      TOKEN_ANNA: 'anna-token-0123456789',
      TOKEN_CLEO: 'short',
      TOKEN_DUP: 'admin-token-0123456789',
    };
    const result = loadConfig(env, { yamlText });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.faults.map((f) => f.replace(/^\/x\.yaml: /, ''))).toEqual([
      'board.users.1.token: environment variable TOKEN_BEN is not set',
      'board.users.2.token: must be at least 16 characters (Cleo)',
      'board.users.3.token: anna has the same token as the admin token; every user needs their own',
      'board.users.3.name: "anna" appears twice',
    ]);

    const ok = loadConfig(
      { ...env, TOKEN_BEN: 'ben-token-0123456789ab', TOKEN_CLEO: 'cleo-token-0123456789', TOKEN_DUP: 'dup-token-0123456789ab' },
      { yamlText: yamlText.replace('name: anna', 'name: Dana') },
    );
    expect(ok.ok).toBe(true);
    if (!ok.ok) return;
    expect(ok.config.board.users.map((u) => [u.name, u.role])).toEqual([
      ['Anna', 'staff'],
      ['Ben', 'staff'],
      ['Cleo', 'display'],
      ['Dana', 'staff'],
    ]);
    expect(JSON.stringify(ok.config.board)).not.toContain('anna-token-0123456789');
  });

  it('refuses unknown keys at every level, with where and what was probably meant', () => {
    const env = { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml' };
    const typo = loadConfig(env, {
      yamlText: 'roomz:\n  - { name: "1A" }\nworker: { pollIntervalMS: 100 }\nboard: { titel: Clinic }\nzzz: 1\n',
    });
    expect(typo.ok).toBe(false);
    if (typo.ok) return;
    expect(typo.faults).toEqual(
      expect.arrayContaining([
        '/x.yaml: roomz: unknown key — did you mean "rooms"?',
        '/x.yaml: worker.pollIntervalMS: unknown key — did you mean "pollIntervalMs"?',
        '/x.yaml: board.titel: unknown key — did you mean "title"?',
      ]),
    );
    expect(typo.faults.find((f) => f.startsWith('/x.yaml: zzz:'))).toMatch(/unknown key \(known here: timeZone, cal, /);
  });

  it('names the line of a YAML syntax error and shows it with a caret', () => {
    const env = { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'x'.repeat(20), USHER_CONFIG: '/x.yaml' };
    const bad = loadConfig(env, { yamlText: 'timeZone: Europe/London\nworker:\n  pollIntervalMs: 100\n    batchSize: 4\n' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.faults[0]).toMatch(/^\/x\.yaml:3:\d+: not valid YAML: .+\n\n.*pollIntervalMs: 100\n\s*\^/);
  });
});
