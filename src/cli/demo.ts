import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { loadConfig, type Env } from '../config.ts';
import { formatFaults } from '../config-faults.ts';
import { actionableTriggers } from '../domain/booking-event.ts';
import { UsherError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { startUsher, type Usher } from '../main.ts';
import { loadSeed } from '../sandbox/load-seed.ts';
import { Sandbox } from '../sandbox/sandbox-server.ts';
import { TrafficGenerator } from '../sandbox/traffic.ts';
import { devEnvironment } from './dev-environment.ts';
import { importMembers } from '../gate/gate-operations.ts';
import { parseMembersCsv } from '../gate/members-csv.ts';
import { listMembers } from '../store/members.ts';

const demoConfigPath = fileURLToPath(new URL('../../demo/usher.config.yaml', import.meta.url));
const demoMembersPath = fileURLToPath(new URL('../../demo/members.csv', import.meta.url));

export async function subscribeSandbox(sandboxUrl: string, apiKey: string, usherUrl: string, secret: string | undefined): Promise<void> {
  const response = await request(`${sandboxUrl}/v2/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      subscriberUrl: `${usherUrl}/webhooks/cal`,
      triggers: actionableTriggers,
      active: true,
      ...(secret ? { secret } : {}),
    }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 201 && response.statusCode !== 409)
    throw new UsherError('CONFIG_INVALID', `sandbox refused the webhook subscription: ${text}`);
}

/**
 * `npm start`: with CAL_API_KEY, Usher against the real Cal.com. Without it, the demo: the sandbox
 * (a local Cal.com) seeded with a small clinic, Usher subscribed to it, and patients booking.
 */
export async function runStart(env: Env): Promise<void> {
  const devEnv = await devEnvironment(env);
  if (env.CAL_API_KEY) {
    const result = loadConfig(devEnv);
    if (!result.ok) throw new UsherError('CONFIG_INVALID', formatFaults(result.faults));
    await keepRunning(await startUsher(result.config, { log: createLogger(result.config.logLevel) }), []);
    return;
  }
  const seed = loadSeed();
  const apiKey = Object.keys(seed.apiKeys)[0]!;
  const sandbox = new Sandbox({ seed });
  const sandboxUrl = await sandbox.listen(Number(env.SANDBOX_PORT ?? 3100));
  const result = loadConfig({
    ...devEnv,
    USHER_CONFIG: env.USHER_CONFIG ?? (existsSync('usher.config.yaml') ? 'usher.config.yaml' : demoConfigPath),
    CAL_API_URL: sandboxUrl,
    CAL_API_KEY: apiKey,
  });
  if (!result.ok) throw new UsherError('CONFIG_INVALID', formatFaults(result.faults));
  const log = createLogger(result.config.logLevel);
  const usher = await startUsher(result.config, { log });
  if ((await listMembers(usher.db, { limit: 1 })).length === 0) {
    const imported = await importMembers(
      usher.db,
      parseMembersCsv(readFileSync(demoMembersPath, 'utf8'), result.config.timeZone),
      'demo',
      new Date(),
    );
    log.info({ ...imported }, 'demo club members imported from demo/members.csv');
  }
  await subscribeSandbox(sandboxUrl, apiKey, usher.url, result.config.cal.webhookSecret);
  const traffic = new TrafficGenerator({
    sandboxUrl,
    eventTypeIds: seed.eventTypes.map((e) => e.id),
    speed: Number(env.USHER_DEMO_SPEED ?? 60),
    onAction: (action, detail) => log.info({ component: 'demo-traffic', action, detail }, 'patient action'),
  });
  traffic.start();
  const secretsFile = relative(process.cwd(), join(dirname(result.config.dataDir), 'dev-secrets.json'));
  // Copy-paste as printed: the token comes from where the demo keeps it (or from the environment).
  const token = env.USHER_ADMIN_TOKEN ? '$USHER_ADMIN_TOKEN' : `$(node -p "require('./${secretsFile}').adminToken")`;
  process.stdout.write(
    [
      '',
      'Usher demo is running (embedded store, sandbox Cal.com, simulated patients):',
      `  Usher            ${usher.url}   (admin token ${env.USHER_ADMIN_TOKEN ? 'from USHER_ADMIN_TOKEN' : `in ${secretsFile}`})`,
      `  room board       ${usher.url}/board   (sign in with the admin token)`,
      `  metrics          ${usher.url}/metrics`,
      `  events (API)     curl -H "Authorization: Bearer ${token}" ${usher.url}/api/events`,
      `  events (CLI)     ./bin/usher.mjs events --limit 10   (beside the demo: no token needed)`,
      `  gate             ./bin/usher.mjs gate held · ./bin/usher.mjs credits balance ada.lovelace@example.com`,
      `  sandbox Cal.com  ${sandboxUrl}/v2/bookings  (API key ${apiKey}; faults: ${sandboxUrl}/_sandbox/faults)`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  await keepRunning(usher, [async () => traffic.stop(), () => sandbox.close()]);
}

async function keepRunning(usher: Usher, others: (() => Promise<void>)[]): Promise<void> {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    Promise.all(others.map((o) => o()))
      .then(() => usher.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
