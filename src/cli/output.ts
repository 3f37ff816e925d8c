import pc from 'picocolors';
import { stringify } from 'yaml';

/**
 * How a command answers: a table or a readable record for people, JSON for scripts (--json), colour
 * only when stdout is a terminal (picocolors honours NO_COLOR and FORCE_COLOR), progress on stderr
 * only when stderr is a terminal — a script's stdout is never mixed with it.
 */

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** Cut to this many characters (long errors, reasons). */
  max?: number;
  colour?: (text: string, row: T) => string;
}

const STATE_COLOURS: Record<string, (s: string) => string> = {
  done: pc.green,
  accepted: pc.green,
  pending: pc.yellow,
  running: pc.cyan,
  dead: pc.red,
  unprocessable: pc.red,
  ignored: pc.dim,
  superseded: pc.dim,
};
export const stateColour = (text: string) => (STATE_COLOURS[text] ?? ((s: string) => s))(text);

export class Output {
  readonly json: boolean;
  readonly #timeZone: () => string;

  /** The time zone is asked for only when a time is shown (a command may run before its config is sound). */
  constructor(o: { json: boolean; timeZone: () => string }) {
    this.json = o.json;
    this.#timeZone = o.timeZone;
  }

  /** A time as the clinic reads it: its own zone, to the minute. */
  time(value: unknown): string {
    if (value === null || value === undefined || value === '') return '';
    const d = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(d.getTime())) return String(value);
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone: this.#timeZone(),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(d);
    const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  }

  table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): void {
    if (this.json) {
      this.#writeJson(rows);
      return;
    }
    if (rows.length === 0) {
      process.stdout.write(`${pc.dim(empty)}\n`);
      return;
    }
    const cells = rows.map((row) =>
      columns.map((c) => {
        const raw = c.value(row);
        const text = raw === null || raw === undefined ? '' : String(raw).replace(/\s+/g, ' ');
        return c.max && text.length > c.max ? `${text.slice(0, c.max - 1)}…` : text;
      }),
    );
    const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
    const line = (texts: string[], paint: (t: string, i: number) => string) =>
      texts
        .map((t, i) => (i === texts.length - 1 ? paint(t, i) : paint(t, i) + ' '.repeat(widths[i]! - t.length)))
        .join('  ')
        .trimEnd();
    process.stdout.write(
      `${line(
        columns.map((c) => c.header),
        (t) => pc.bold(t),
      )}\n`,
    );
    for (const [r, row] of cells.entries()) {
      process.stdout.write(`${line(row, (t, i) => columns[i]!.colour?.(t, rows[r]!) ?? t)}\n`);
    }
  }

  /** One thing (a booking, a balance, a result) as indented "key: value" lines, or JSON. */
  record(value: unknown, title?: string): void {
    if (this.json) {
      this.#writeJson(value);
      return;
    }
    if (title) process.stdout.write(`${pc.bold(title)}\n`);
    const plain = JSON.parse(JSON.stringify(value ?? null)) as unknown;
    process.stdout.write(stringify(plain, { lineWidth: 0 }).replace(/\n$/, '\n'));
  }

  /** A sentence for people (nothing under --json, where the record or table says it all). */
  say(text: string): void {
    if (!this.json) process.stdout.write(`${text}\n`);
  }

  /** A count that moves on a terminal (long work: a replay of many, an import); silent otherwise. */
  progress(label: string, total: number): { tick(): void; done(): void } {
    const live = process.stderr.isTTY === true;
    let n = 0;
    const draw = () => {
      const width = 24;
      const filled = total ? Math.round((n / total) * width) : width;
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total}`);
    };
    if (live) draw();
    return {
      tick() {
        n++;
        if (live) draw();
      },
      done() {
        if (live) process.stderr.write('\n');
      },
    };
  }

  /** A spinner line while one long call runs (a reconciliation pass), on a terminal only. */
  async while<T>(label: string, work: Promise<T>): Promise<T> {
    if (process.stderr.isTTY !== true) return work;
    const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let i = 0;
    const timer = setInterval(() => process.stderr.write(`\r${frames[i++ % frames.length]} ${label}`), 80);
    try {
      return await work;
    } finally {
      clearInterval(timer);
      process.stderr.write(`\r${' '.repeat(label.length + 2)}\r`);
    }
  }

  #writeJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}

export const colours = pc;
