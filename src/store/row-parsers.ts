import { z } from 'zod';
import { UsherError } from '../errors.ts';

/**
 * Rows become domain values through these checked column types (STYLE §3), never through `as`:
 * a column renamed, dropped or of another type in a migration fails loudly at the first read,
 * naming the table and column, instead of flowing on as `undefined` into a decision.
 */
export const col = {
  text: z.string(),
  nullableText: z.string().nullable(),
  /** int, bigint (pg gives a bigint as a string) and numeric. */
  int: z.union([
    z.number().int(),
    z
      .string()
      .regex(/^-?\d+$/)
      .transform(Number),
  ]),
  nullableInt: z
    .union([
      z.number().int(),
      z
        .string()
        .regex(/^-?\d+$/)
        .transform(Number),
    ])
    .nullable(),
  bool: z.boolean(),
  time: z.date(),
  nullableTime: z.date().nullable(),
  json: z.unknown(),
  object: z.record(z.string(), z.unknown()),
  list: z.array(z.unknown()),
  textList: z.array(z.string()),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values),
};

/** A row mapper: the row checked by `schema`, then shaped by `shape`. */
export function rowMapper<S extends z.ZodType, T>(
  table: string,
  schema: S,
  shape: (row: z.output<S>) => T,
): (row: Record<string, unknown>) => T {
  return (row) => {
    const checked = schema.safeParse(row);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      throw new UsherError('STORE_UNAVAILABLE', `${table}.${issue.path.join('.')}: ${issue.message} (the schema and the code disagree)`);
    }
    return shape(checked.data);
  };
}
