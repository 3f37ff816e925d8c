import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { type Config, loadConfig, type Env } from '../config.ts';
import { formatFaults } from '../config-faults.ts';
import { actionableTriggers } from '../domain/booking-event.ts';
import { UsherError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { startUsher, type Usher } from '../main.ts';
import { loadSeed } from '../sandbox/load-seed.ts';
import { seedDemoDay, seedDemoHistory } from '../sandbox/demo-day.ts';
import { Sandbox } from '../sandbox/sandbox-server.ts';
import { readLockOwner } from '../store/data-dir-lock.ts';
import { TrafficGenerator } from '../sandbox/traffic.ts';
import { devEnvironment } from './dev-environment.ts';
import { stopInOrder } from './stop-in-order.ts';
import type { Logger } from 'pino';
import { importMembers } from '../gate/gate-operations.ts';
import { parseMembersCsv } from '../gate/members-csv.ts';
import { listMembers } from '../store/members.ts';

const demoConfigPath = fileURLToPath(new URL('../../demo/usher.config.yaml', import.meta.url));
const demoMembersPath = fileURLToPath(new URL('../../demo/members.csv', import.meta.url));

/**
 * Subscribes Usher to the sandbox as `usher connect` would: at the organisation's level when the
 * key is in one (its webhook hears every doctor's bookings; a user's only the key owner's).
 */
export async function subscribeSandbox(sandboxUrl: string, apiKey: string, usherUrl: string, secret: string | undefined): Promise<void> {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const me = await request(`${sandboxUrl}/v2/me`, { headers });
  const org = ((await me.body.json()) as { data?: { organizationId?: number | null } }).data?.organizationId;
  const subscribe = (scope: string) =>
    request(`${sandboxUrl}${scope}/webhooks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        subscriberUrl: `${usherUrl}/webhooks/cal`,
        triggers: actionableTriggers,
        active: true,
        ...(secret ? { secret } : {}),
      }),
    });
  let response = await subscribe(org ? `/v2/organizations/${org}` : '/v2');
  // A member who is not the organisation's admin may still subscribe to their own bookings.
  if (org && response.statusCode === 403) {
    await response.body.dump();
    response = await subscribe('/v2');
  }
  const text = await response.body.text();
  if (response.statusCode !== 201 && response.statusCode !== 409)
    throw new UsherError('CONFIG_INVALID', `sandbox refused the webhook subscription: ${text}`);
}

/**
 * `npm start`: with CAL_API_KEY, Usher against the real Cal.com. Without it, the demo: the sandbox
 * (a local Cal.com) seeded with a small clinic, Usher subscribed to it, and patients booking.
 */
export async function runStart(env: Env, options: { reset?: boolean } = {}): Promise<void> {
  const devEnv = await devEnvironment(env);
  if (env.CAL_API_KEY) {
    const result = loadConfig(devEnv);
    if (!result.ok) throw new UsherError('CONFIG_INVALID', formatFaults(result.faults));
    const log = createLogger(result.config.logLevel);
    await keepRunning(await startUsher(result.config, { log }), [], log);
    return;
  }
  const configPath = env.USHER_CONFIG ?? (existsSync('usher.config.yaml') ? 'usher.config.yaml' : demoConfigPath);
  const first = loadConfig({ ...devEnv, USHER_CONFIG: configPath });
  if (!first.ok) throw new UsherError('CONFIG_INVALID', formatFaults(first.faults));
  // The sandbox's Cal.com and Usher's store are one clinic: kept together, reset together.
  const stateFile = join(dirname(first.config.dataDir), 'demo-sandbox.json');
  if (options.reset) resetDemo(first.config, stateFile);
  else if (!existsSync(stateFile) && !first.config.databaseUrl && existsSync(join(first.config.dataDir, 'postgres'))) {
    throw new UsherError(
      'BAD_REQUEST',
      `${first.config.dataDir} holds a demo whose Cal.com sandbox was not kept (an older Usher): start afresh with \`usher demo --reset\``,
    );
  }
  const seed = loadSeed();
  const apiKey = Object.keys(seed.apiKeys)[0]!;
  const sandbox = new Sandbox({ seed });
  if (existsSync(stateFile)) sandbox.state.restore(JSON.parse(readFileSync(stateFile, 'utf8')));
  const saveSandbox = () => writeFileSync(stateFile, JSON.stringify(sandbox.state), { mode: 0o600 });
  const sandboxUrl = await sandbox.listen(Number(env.SANDBOX_PORT ?? 3100));
  const result = loadConfig({
    ...devEnv,
    USHER_CONFIG: configPath,
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
  const history = seedDemoHistory(sandbox, new Date(), { timeZone: result.config.timeZone });
  if (history.length) log.info({ bookings: history.length }, 'demo: four weeks of the clinic before today, for the insights page');
  const today = seedDemoDay(sandbox, new Date());
  if (today.length) log.info({ bookings: today.length }, 'demo: a clinic day around now, announced to Usher as Cal.com would');
  saveSandbox();
  const keeper = setInterval(saveSandbox, 15_000);
  keeper.unref();
  // About two patient actions a minute: within Cal.com's five location writes a minute, so the
  // write-backs keep up and the board's backlog stays small (USHER_DEMO_SPEED multiplies it).
  const traffic = new TrafficGenerator({
    sandboxUrl,
    eventTypeIds: seed.eventTypes.map((e) => e.id),
    speed: Number(env.USHER_DEMO_SPEED ?? 1),
    everySeconds: 30,
    onAction: (action, detail) => log.info({ component: 'demo-traffic', action, detail }, 'patient action'),
  });
  traffic.start();
  const secretsFile = relative(process.cwd(), join(dirname(result.config.dataDir), 'dev-secrets.json'));
  // Copy-paste as printed: the token comes from where the demo keeps it (or from the environment).
  const token = env.USHER_ADMIN_TOKEN ? '$USHER_ADMIN_TOKEN' : `$(node -p "require('./${secretsFile}').adminToken")`;
  // The CLI as it can be typed from here (the demo may be started from any directory).
  const binPath = relative(process.cwd(), fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url)));
  const cli = binPath.startsWith('.') || binPath.startsWith('/') ? binPath : `./${binPath}`;
  process.stdout.write(
    [
      '',
      'Usher demo is running (embedded store, sandbox Cal.com, simulated patients):',
      `  Usher            ${usher.url}   (admin token ${env.USHER_ADMIN_TOKEN ? 'from USHER_ADMIN_TOKEN' : `in ${secretsFile}`})`,
      `  room board       ${usher.url}/board   (sign in with the admin token)`,
      `  metrics          ${usher.url}/metrics`,
      `  events (API)     curl -H "Authorization: Bearer ${token}" ${usher.url}/api/events`,
      `  events (CLI)     ${cli} events --limit 10   (beside the demo: no token needed)`,
      `  gate             ${cli} gate held · ${cli} credits balance ada.lovelace@example.com`,
      `  start afresh     ${cli} demo --reset`,
      // Cal.com's API v2 answers a booking request only with its version header (CONTRACT §4.2).
      `  sandbox Cal.com  curl -H "Authorization: Bearer ${apiKey}" -H "cal-api-version: 2024-08-13" ${sandboxUrl}/v2/bookings`,
      `                   (faults to try: ${sandboxUrl}/_sandbox/faults)`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  await keepRunning(
    usher,
    [
      async () => traffic.stop(),
      async () => {
        clearInterval(keeper);
        await sandbox.close();
        saveSandbox();
      },
    ],
    log,
  );
}

/** `usher demo --reset`: the demo's store and its sandbox Cal.com, gone together (never an external database). */
function resetDemo(config: Config, stateFile: string): void {
  if (config.databaseUrl) throw new UsherError('BAD_REQUEST', 'usher demo --reset empties the embedded store only; unset DATABASE_URL');
  const owner = readLockOwner(config.dataDir);
  if (owner) throw new UsherError('CONFLICT', `usher is running on ${config.dataDir} (process ${owner.pid}): stop it first`);
  rmSync(config.dataDir, { recursive: true, force: true });
  rmSync(stateFile, { force: true });
  process.stdout.write(`usher demo: started afresh (${config.dataDir} and ${stateFile} removed)\n`);
}

async function keepRunning(usher: Usher, others: (() => Promise<void>)[], log: Logger): Promise<void> {
  stopInOrder(async () => {
    await Promise.all(others.map((o) => o()));
    await usher.close();
  }, log);
}
