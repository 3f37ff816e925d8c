/**
 * npm run bench:alternate -- <bench> <baseline dir> [rounds] — runs `npm run bench:<bench>` in this
 * checkout and in another one (npm-installed), taking turns, and prints each table cell of both as
 * every run gave it and its median. On this machine one run of the same code moves by 10–15 % from
 * the next (docs/benchmarks.md), more than most changes: one run of each says little; alternating
 * rounds, with the order swapped every round, put the machine's drift on both sides.
 *
 * Every bench prints Markdown tables; a cell's figure is the last number in it ("79 + 36 = **115**"
 * is 115). The bench's own environment (BENCH_EVENTS, …) passes through; BENCH_BASELINE does not,
 * since some benches read it to run a baseline inside the same run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Figures of one run: table (its place among the run's tables and its first column's name: the two
 * checkouts may print different columns) → row (its first cell) → column → the cell's last number.
 */
export type Figures = Map<string, Map<string, Map<string, number>>>;

export function tableFigures(output: string): Figures {
  const figures: Figures = new Map();
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  const lines = output.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\|[\s|:-]+\|$/.test(lines[i + 1]!.trim())) continue;
    const header = cells(lines[i]!);
    const rows = new Map<string, Map<string, number>>();
    figures.set(`table ${figures.size + 1} (${header[0]})`, rows);
    for (let j = i + 2; j < lines.length && lines[j]!.trim().startsWith('|'); j++) {
      const row = cells(lines[j]!);
      const numbers = new Map<string, number>();
      for (const [k, cell] of row.entries()) {
        if (k === 0) continue;
        const found = cell.replaceAll('**', '').match(/-?\d[\d,]*(\.\d+)?/g);
        if (found) numbers.set(header[k] ?? `column ${k + 1}`, Number(found.at(-1)!.replaceAll(',', '')));
      }
      rows.set(row[0]!, numbers);
    }
  }
  return figures;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function run(bench: string, cwd: string): Promise<string> {
  const env = { ...process.env };
  delete env.BENCH_BASELINE;
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', `bench:${bench}`], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench:${bench} in ${cwd} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const [bench, baseline, roundsArg] = process.argv.slice(2);
  if (!bench || !baseline) {
    process.stderr.write('usage: npm run bench:alternate -- <bench, e.g. worker> <baseline checkout> [rounds, default 3]\n');
    process.exit(2);
  }
  const here = fileURLToPath(new URL('..', import.meta.url));
  const rounds = Number(roundsArg ?? 3);
  const runs: Record<'baseline' | 'this', Figures[]> = { baseline: [], this: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['baseline', 'this'] as const) : (['this', 'baseline'] as const);
    for (const side of order) {
      process.stderr.write(`round ${r + 1} of ${rounds}: ${side}\n`);
      runs[side].push(tableFigures(await run(bench, side === 'this' ? here : baseline)));
    }
  }
  const lines = [
    `bench:${bench}, ${rounds} rounds taking turns (baseline: ${baseline}); each run's figure, then the median`,
    '| table | row | column | baseline | median | this | median |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [table, rows] of runs.this[0] ?? new Map()) {
    for (const [row, columns] of rows) {
      for (const column of columns.keys()) {
        const of = (side: 'baseline' | 'this') =>
          runs[side].map((f) => f.get(table)?.get(row)?.get(column)).filter((x): x is number => x !== undefined);
        const [b, t] = [of('baseline'), of('this')];
        const show = (xs: number[]) => (xs.length ? `${xs.join(', ')} | ${Number(median(xs).toFixed(3))}` : '— | —');
        lines.push(`| ${table} | ${row} | ${column} | ${show(b)} | ${show(t)} |`);
      }
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
