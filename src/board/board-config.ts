import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Env } from '../env.ts';
import { interpolateEnv } from '../env-interpolation.ts';
import type { BoardRole } from '../store/board-sessions.ts';

export const boardSectionSchema = z
  .object({
    /** Shown in the board's header ("Harbour Clinic · rooms"). */
    title: z.string().trim().min(1).max(80).default('Rooms'),
    /** Full patient names on the board; initials by default (the front desk needs no more). */
    showNames: z.boolean().default(false),
    staffSessionHours: z
      .number()
      .positive()
      .max(24 * 31)
      .default(12),
    displaySessionDays: z.number().positive().max(366).default(30),
    /**
     * People and screens that may sign in besides the admin token. Tokens come from the environment
     * (`token: ${USHER_TOKEN_ANNA}`); a `display` user sees the board and cannot act.
     */
    users: z
      .array(
        z
          .object({
            name: z.string().trim().min(1).max(60),
            token: z.string().min(1),
            role: z.enum(['staff', 'display']).default('staff'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .default({ title: 'Rooms', showNames: false, staffSessionHours: 12, displaySessionDays: 30, users: [] });

export type BoardSection = z.infer<typeof boardSectionSchema>;

export interface BoardUser {
  name: string;
  role: BoardRole;
  /** sha256 of the token, hex (the config is frozen, and a Buffer cannot be): compared in constant time. */
  tokenHash: string;
}

export interface BoardSettings {
  title: string;
  showNames: boolean;
  staffSessionHours: number;
  displaySessionDays: number;
  users: BoardUser[];
}

export const MIN_TOKEN_CHARS = 16;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Resolves tokens from the environment and lists every fault (short, repeated, unset). */
export function resolveBoardSettings(
  section: BoardSection,
  env: Env,
  adminToken: string | undefined,
): { settings: BoardSettings; faults: string[] } {
  const faults: string[] = [];
  const users: BoardUser[] = [];
  const seenTokens = new Map<string, string>(adminToken ? [[tokenHash(adminToken), 'the admin token']] : []);
  const seenNames = new Set<string>();
  section.users.forEach((u, i) => {
    const path = `board.users.${i}.token`;
    const { value: token, faults: missing } = interpolateEnv(u.token, env, path);
    faults.push(...missing);
    if (missing.length) return;
    if (token.length < MIN_TOKEN_CHARS) faults.push(`${path}: must be at least ${MIN_TOKEN_CHARS} characters (${u.name})`);
    const key = tokenHash(token);
    const twin = seenTokens.get(key);
    if (twin) faults.push(`${path}: ${u.name} has the same token as ${twin}; every user needs their own`);
    seenTokens.set(key, u.name);
    if (seenNames.has(u.name.toLowerCase())) faults.push(`board.users.${i}.name: "${u.name}" appears twice`);
    seenNames.add(u.name.toLowerCase());
    users.push({ name: u.name, role: u.role, tokenHash: tokenHash(token) });
  });
  return {
    settings: {
      title: section.title,
      showNames: section.showNames,
      staffSessionHours: section.staffSessionHours,
      displaySessionDays: section.displaySessionDays,
      users,
    },
    faults,
  };
}
