import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Env } from '../config.ts';

/**
 * `npm start` on a fresh machine must work without anyone inventing secrets first. When the
 * webhook secret or admin token are missing, strong random ones are made once and kept beside the
 * data dir (mode 0600), and printed so that the developer can sign test webhooks and call the API.
 * A secret given in the environment always wins.
 */
export async function devEnvironment(env: Env): Promise<Env> {
  const dataDir = resolve(env.USHER_DATA_DIR || './.usher/data');
  const file = join(dirname(dataDir), 'dev-secrets.json');
  let secrets: { webhookSecret: string; adminToken: string };
  try {
    secrets = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    secrets = { webhookSecret: randomBytes(24).toString('base64url'), adminToken: randomBytes(24).toString('base64url') };
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  const merged: Env = {
    ...env,
    CAL_WEBHOOK_SECRET: env.CAL_WEBHOOK_SECRET || (env.USHER_ALLOW_UNSIGNED_WEBHOOKS === 'true' ? undefined : secrets.webhookSecret),
    USHER_ADMIN_TOKEN: env.USHER_ADMIN_TOKEN || secrets.adminToken,
  };
  if (!env.CAL_WEBHOOK_SECRET || !env.USHER_ADMIN_TOKEN) {
    process.stdout.write(`usher: development secrets from ${file} (set CAL_WEBHOOK_SECRET and USHER_ADMIN_TOKEN to use your own)\n`);
  }
  return merged;
}
