/**
 * npm run bench:machine — what this machine itself adds to any latency Usher measures on it, so a
 * millisecond target can be read beside the noise under it (docs/benchmarks.md):
 *
 * - the disk: one 8-KB write and fdatasync, as a commit's WAL flush is, 2,000 times;
 * - the CPU scheduler: threads that only read the clock in a loop, first one (the baseline), then
 *   as many as the machine has cores, then one more. Any gap between two readings longer than
 *   0.5 ms is time the thread was not running (counted as lost): the kernel, a hypervisor or another
 *   thread had its core. A decision keeps Node and a PostgreSQL backend busy at once, so on two cores
 *   it runs under the second row's stalls; under load (the load generator, the route, the worker,
 *   the backends) there are more threads than cores, and each waits its turn as in the third row.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { diskFlushes, percentile } from './bench-store.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

// A thread reading the clock in a loop for `ms`; posts the gaps longer than 0.5 ms.
const SPINNER = `
const { parentPort, workerData } = require('node:worker_threads');
const end = performance.now() + workerData;
const gaps = [];
let last = performance.now();
for (;;) {
  const now = performance.now();
  if (now > end) break;
  if (now - last > 0.5) gaps.push(now - last);
  last = now;
}
parentPort.postMessage(gaps);
`;

async function stalls(threads: number): Promise<{ gaps: number[]; lostShare: number }> {
  const runs = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number[]>((resolve, reject) => {
          const w = new Worker(SPINNER, { eval: true, workerData: SECONDS * 1000 });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const gaps = runs.flat().sort((a, b) => a - b);
  const lost = gaps.reduce((a, b) => a + b, 0);
  return { gaps, lostShare: lost / (threads * SECONDS * 1000) };
}

const cores = availableParallelism();
const disk = diskFlushes(2000);
const f = (x: number) => x.toFixed(2);
console.log(
  `disk: 8-KB write + fdatasync, 2,000 times (ms): p50 ${f(percentile(disk, 50))}, p99 ${f(percentile(disk, 99))}, max ${f(disk.at(-1)!)}`,
);
console.log(`\nthreads spinning for ${SECONDS} s each; a stall is a gap > 0.5 ms between two clock readings (${cores} cores):`);
console.log('| busy threads | stalls per second per thread | stalls > 2 ms per second | p99 stall ms | longest ms | time lost |');
console.log('|---|---|---|---|---|---|');
// One busy thread (the baseline); as many as cores (a decision: Node and its backend at once); one
// more than cores (an acknowledgement under load: the load generator, the route, the worker, the
// backends).
for (const threads of [...new Set([1, cores, cores + 1])]) {
  const { gaps, lostShare } = await stalls(threads);
  const perSecond = (n: number) => (n / (threads * SECONDS)).toFixed(1);
  console.log(
    `| ${threads}${threads === 1 ? ' (baseline)' : ''} | ${perSecond(gaps.length)} | ${perSecond(gaps.filter((g) => g > 2).length)} | ${f(percentile(gaps, 99))} | ${f(gaps.at(-1) ?? 0)} | ${(lostShare * 100).toFixed(2)} % |`,
  );
}
