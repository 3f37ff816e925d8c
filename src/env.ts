/** The process environment as Usher reads it: only config.ts reads process.env (STYLE §6) and hands this on. */
export type Env = Record<string, string | undefined>;
