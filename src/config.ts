import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { schemaFaults } from './config-faults.ts';
import { z } from 'zod';
import { UsherError } from './errors.ts';
import { gateSectionSchema, resolveGateSettings, type GateSettings } from './gate/gate-config.ts';
import { type CalendarSettings, type InsightsSettings, insightsSections, resolveInsightsSettings } from './insights/insights-config.ts';
import { resolveRoomSettings, roomSections, type RoomConfig, type RoomSettings } from './rooms/room-config.ts';
import { automationsSchema, resolveAutomations, type Automation } from './automations/automation-config.ts';
import { boardSectionSchema, resolveBoardSettings, type BoardSettings } from './board/board-config.ts';

/** The YAML file: everything about the business. Secrets and addresses come from the environment. */
const fileSchema = z
  .object({
    timeZone: z.string().default('UTC'),
    cal: z
      .object({
        // CONTRACT §4.1: bookings controllers are versioned; 2026-02-25 is what the hosted docs now require
        // (same routes and shapes as 2024-08-13, which stays selectable for older self-hosted Cal.com).
        bookingsApiVersion: z.enum(['2024-08-13', '2026-02-25']).default('2026-02-25'),
        // A clinic whose doctors are members of a Cal.com organisation: Usher subscribes to and lists
        // the organisation's bookings (the key must be an admin's or owner's), not only the key owner's.
        organizationId: z.number().int().positive().optional(),
        requestTimeoutSeconds: z.number().positive().max(120).default(10),
        rateLimit: z
          .object({
            requestsPerWindow: z.number().int().positive().default(120),
            locationRequestsPerWindow: z.number().int().positive().default(5),
            windowSeconds: z.number().positive().default(60),
          })
          .strict()
          .default({ requestsPerWindow: 120, locationRequestsPerWindow: 5, windowSeconds: 60 }),
      })
      .strict()
      .default({
        bookingsApiVersion: '2026-02-25',
        requestTimeoutSeconds: 10,
        rateLimit: { requestsPerWindow: 120, locationRequestsPerWindow: 5, windowSeconds: 60 },
      }),
    webhooks: z
      .object({
        maxBodyBytes: z.number().int().positive().default(1_048_576),
        repeatWindowSeconds: z.number().int().positive().default(300),
      })
      .strict()
      .default({ maxBodyBytes: 1_048_576, repeatWindowSeconds: 300 }),
    worker: z
      .object({
        maxAttempts: z.number().int().min(1).max(100).default(8),
        pollIntervalMs: z.number().int().min(10).default(500),
        backoffBaseSeconds: z.number().positive().default(2),
        backoffMaxSeconds: z.number().positive().default(600),
        batchSize: z.number().int().min(1).max(500).default(8),
        /** Events per transaction while a backlog remains (the last batch came back full); never fewer than batchSize. */
        backlogBatchSize: z.number().int().min(1).max(500).default(32),
        /** Outbox jobs in flight at once per process while their budgets have room for all (jobs/worker.ts); 1 = one at a time. */
        jobsAtOnce: z.number().int().min(1).max(64).default(16),
      })
      .strict()
      .default({
        maxAttempts: 8,
        pollIntervalMs: 500,
        backoffBaseSeconds: 2,
        backoffMaxSeconds: 600,
        batchSize: 8,
        backlogBatchSize: 32,
        jobsAtOnce: 16,
      }),
    reconciler: z
      .object({ intervalSeconds: z.number().min(0).default(300) })
      .strict()
      .default({ intervalSeconds: 300 }),
    gate: gateSectionSchema,
    // Keyed by Cal.com event type id. Strict: a misspelt key (`gat:`) must not silently turn a gate off.
    eventTypes: z
      .record(
        z.string().regex(/^\d+$/, 'event type keys are Cal.com event type ids (numbers)'),
        z
          .object({
            title: z.string().optional(),
            gate: z.record(z.string(), z.unknown()).optional(),
            /** What a booking of this type needs in its room (a booking's metadata.equipment adds to it). */
            equipment: z.array(z.string().trim().min(1)).optional(),
            /** false for event types held elsewhere (video calls): no room, no location written. */
            needsRoom: z.boolean().optional(),
          })
          .strict(),
      )
      .default({}),
    ...roomSections,
    ...insightsSections,
    board: boardSectionSchema,
    automations: automationsSchema,
  })
  // Strict at every level: a misspelt section (`roomz:`) must not silently leave the clinic without rooms.
  .strict();

export type FileConfig = z.infer<typeof fileSchema>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** initdb and pg_ctl for the embedded server instead of the registry package's (USHER_POSTGRES_BIN). */
  readonly postgresBin: string | undefined;
  /** The system user that runs the embedded server when Usher runs as root (USHER_POSTGRES_USER). */
  readonly postgresUser: string;
  /**
   * Which peers' X-Forwarded-For to believe for the client's address (fastify's trustProxy), so
   * that sign-in and admin throttles count each client, not the proxy (USHER_TRUST_PROXY).
   */
  readonly trustProxy: false | string[];
  /** CLI commands go through the admin API of the Usher at this address (USHER_ADMIN_URL). */
  readonly adminUrl: string | undefined;
  /** Where Cal.com reaches this Usher from outside (USHER_PUBLIC_URL): usher connect subscribes `<it>/webhooks/cal`. */
  readonly publicUrl: string | undefined;
  readonly configPath: string;
  readonly logLevel: string;
  readonly cal: FileConfig['cal'] & {
    readonly apiUrl: string;
    readonly apiKey: string | undefined;
    readonly webhookSecret: string | undefined;
    readonly allowUnsignedWebhooks: boolean;
  };
  readonly adminToken: string | undefined;
  readonly timeZone: string;
  readonly webhooks: FileConfig['webhooks'];
  readonly worker: FileConfig['worker'];
  readonly reconciler: FileConfig['reconciler'];
  readonly gate: GateSettings;
  readonly eventTypes: FileConfig['eventTypes'];
  /** Rooms declared in the file (synced into the store at start; the admin API can add more). */
  readonly rooms: readonly RoomConfig[];
  readonly roomSettings: RoomSettings;
  readonly board: BoardSettings;
  readonly insights: InsightsSettings;
  readonly calendars: CalendarSettings;
  /** Follow-up actions on Cal.com's and Usher's events, secrets resolved, templates checked. */
  readonly automations: readonly Automation[];
  /** Sections later features read (rooms, members, automations), kept verbatim for their own parsers. */
  readonly file: Record<string, unknown>;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; faults: string[] };

export type { Env } from './env.ts';
import type { Env } from './env.ts';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the environment and the YAML file once and lists every fault at once (STYLE §6).
 * `requireSecrets: false` is for commands that never receive webhooks nor call Cal.com (migrate).
 */
export function loadConfig(env: Env, options: { requireSecrets?: boolean; yamlText?: string } = {}): ConfigResult {
  const faults: string[] = [];
  const requireSecrets = options.requireSecrets ?? true;

  const port = Number(env.PORT ?? '3000');
  if (!Number.isInteger(port) || port < 0 || port > 65535) faults.push(`PORT: "${env.PORT}" is not a port number`);

  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    faults.push('DATABASE_URL: must start with postgres:// or postgresql://');
  }

  if (env.USHER_ADMIN_URL && !/^https?:\/\//.test(env.USHER_ADMIN_URL.trim()))
    faults.push('USHER_ADMIN_URL: must start with http:// or https://');
  if (env.USHER_PUBLIC_URL && !/^https?:\/\/[^/]/.test(env.USHER_PUBLIC_URL.trim()))
    faults.push('USHER_PUBLIC_URL: must start with http:// or https://, e.g. https://usher.example');
  const trustProxy = parseTrustProxy(env.USHER_TRUST_PROXY, faults);

  const apiUrl = (env.CAL_API_URL?.trim() || 'https://api.cal.com').replace(/\/+$/, '');
  try {
    const url = new URL(apiUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
  } catch {
    faults.push(`CAL_API_URL: "${apiUrl}" is not an http(s) URL`);
  }

  const webhookSecret = env.CAL_WEBHOOK_SECRET || undefined;
  const allowUnsignedWebhooks = env.USHER_ALLOW_UNSIGNED_WEBHOOKS === 'true';
  if (env.USHER_ALLOW_UNSIGNED_WEBHOOKS && !['true', 'false'].includes(env.USHER_ALLOW_UNSIGNED_WEBHOOKS)) {
    faults.push('USHER_ALLOW_UNSIGNED_WEBHOOKS: must be "true" or "false"');
  }
  if (webhookSecret && allowUnsignedWebhooks) {
    faults.push('USHER_ALLOW_UNSIGNED_WEBHOOKS=true and CAL_WEBHOOK_SECRET are both set: choose one');
  }
  if (requireSecrets && !webhookSecret && !allowUnsignedWebhooks) {
    faults.push(
      'CAL_WEBHOOK_SECRET: not set. Set it to the secret of your Cal.com webhook, or set USHER_ALLOW_UNSIGNED_WEBHOOKS=true to accept unsigned webhooks (not for production)',
    );
  }
  const adminToken = env.USHER_ADMIN_TOKEN || undefined;
  if (requireSecrets && !adminToken) faults.push('USHER_ADMIN_TOKEN: not set (the admin API and the board need it)');
  if (adminToken && adminToken.length < 16) faults.push('USHER_ADMIN_TOKEN: must be at least 16 characters');

  const configPath = resolve(env.USHER_CONFIG || './usher.config.yaml');
  let yamlText = options.yamlText;
  if (yamlText === undefined) {
    try {
      yamlText = readFileSync(configPath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !env.USHER_CONFIG) yamlText = '';
      else faults.push(`USHER_CONFIG: cannot read ${configPath} (${code ?? String(error)})`);
    }
  }
  let raw: unknown = {};
  if (yamlText) {
    // Every syntax error, each with its line and the yaml library's excerpt with a caret under it.
    const doc = parseDocument(yamlText, { prettyErrors: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const where = e.linePos?.[0] ? `${configPath}:${e.linePos[0].line}:${e.linePos[0].col}` : configPath;
        faults.push(`${where}: not valid YAML: ${e.message.trimEnd()}`);
      }
    } else raw = doc.toJS() ?? {};
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    faults.push(...schemaFaults(fileSchema, parsed.error.issues, `${configPath}: `));
  } else if (!isValidTimeZone(parsed.data.timeZone)) {
    faults.push(`${configPath}: timeZone: "${parsed.data.timeZone}" is not an IANA time zone`);
  }

  let gate: GateSettings | undefined;
  let roomSettings: RoomSettings | undefined;
  let board: BoardSettings | undefined;
  let automations: Automation[] | undefined;
  if (!parsed.success) {
    // The rest failed to parse: still list the gate's template faults now rather than on the next run.
    const section = gateSectionSchema.safeParse((raw as { gate?: unknown } | null)?.gate);
    if (section.success) faults.push(...resolveGateSettings(section.data, {}).faults.map((f) => `${configPath}: ${f}`));
  } else {
    const gates = Object.fromEntries(Object.entries(parsed.data.eventTypes).flatMap(([id, t]) => (t.gate ? [[id, t.gate]] : [])));
    const resolved = resolveGateSettings(parsed.data.gate, gates);
    faults.push(...resolved.faults.map((f) => `${configPath}: ${f}`));
    gate = resolved.settings;
    const roomsResolved = resolveRoomSettings(parsed.data, parsed.data.gate.requireRoom);
    faults.push(...roomsResolved.faults.map((f) => `${configPath}: ${f}`));
    roomSettings = roomsResolved.settings;
    const boardResolved = resolveBoardSettings(parsed.data.board, env, adminToken);
    faults.push(...boardResolved.faults.map((f) => `${configPath}: ${f}`));
    board = boardResolved.settings;
    const automationsResolved = resolveAutomations(parsed.data.automations, env);
    faults.push(...automationsResolved.faults.map((f) => `${configPath}: ${f}`));
    automations = automationsResolved.automations;
  }

  if (faults.length > 0 || !parsed.success || !gate || !roomSettings || !board || !automations) return { ok: false, faults };
  const file = parsed.data;
  const config: Config = {
    port,
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    dataDir: resolve(env.USHER_DATA_DIR || './.usher/data'),
    postgresBin: env.USHER_POSTGRES_BIN?.trim() || undefined,
    postgresUser: env.USHER_POSTGRES_USER?.trim() || 'usher',
    adminUrl: env.USHER_ADMIN_URL?.trim().replace(/\/+$/, '') || undefined,
    publicUrl: env.USHER_PUBLIC_URL?.trim().replace(/\/+$/, '') || undefined,
    trustProxy,
    configPath,
    logLevel: env.LOG_LEVEL || 'info',
    cal: {
      ...file.cal,
      apiUrl,
      apiKey: env.CAL_API_KEY || undefined,
      webhookSecret,
      allowUnsignedWebhooks,
    },
    adminToken,
    timeZone: file.timeZone,
    webhooks: file.webhooks,
    worker: file.worker,
    reconciler: file.reconciler,
    gate,
    eventTypes: file.eventTypes,
    rooms: file.rooms,
    roomSettings,
    board,
    ...resolveInsightsSettings(file),
    automations,
    file: file as Record<string, unknown>,
  };
  return { ok: true, config: deepFreeze(config) };
}

/**
 * USHER_TRUST_PROXY: unset → `loopback` (a reverse proxy on the same machine, the README's set-up;
 * nobody else can send from there); `false`; or the proxies' addresses and CIDR ranges,
 * comma-separated (`10.0.0.2, 172.18.0.0/16`). `true` (believe anyone) is refused: any client could
 * then pick the address its failed sign-ins count against.
 */
function parseTrustProxy(raw: string | undefined, faults: string[]): false | string[] {
  const value = raw?.trim();
  if (!value) return ['loopback'];
  if (value === 'false') return false;
  if (value === 'true') {
    faults.push(
      'USHER_TRUST_PROXY: "true" would believe any client\'s X-Forwarded-For; name the proxy\'s addresses or range (e.g. 172.18.0.0/16)',
    );
    return false;
  }
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !/^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(s));
  if (bad.length > 0) faults.push(`USHER_TRUST_PROXY: not an address, CIDR range or loopback/linklocal/uniquelocal: ${bad.join(', ')}`);
  return list;
}

export function loadConfigOrThrow(env: Env, options?: { requireSecrets?: boolean }): Config {
  const result = loadConfig(env, options);
  if (!result.ok) {
    throw new UsherError('CONFIG_INVALID', `configuration has ${result.faults.length} fault(s)`, {
      detail: result.faults,
    });
  }
  return result.config;
}
