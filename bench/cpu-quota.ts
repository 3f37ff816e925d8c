import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A share of the machine's CPU for a process, as if it ran alone on a smaller machine: a control group
 * with a CFS bandwidth quota (`cores` of CPU time per 100-ms period). Scale-out on a machine with
 * fewer cores than processes shows only that the processes take CPU from each other and from the
 * database; with each process held to a quota and PostgreSQL left the rest, adding processes shows
 * whether the design lets their work add up until the database is the limit (bench/scale-out.ts).
 *
 * Needs root and a writable cgroup file system: v1's `cpu` controller or v2 with `cpu` enabled for the
 * root's children. The group is removed by `remove()`, once its processes have exited.
 */
export class CpuQuota {
  readonly #dir: string;
  readonly #v2: boolean;

  private constructor(dir: string, v2: boolean) {
    this.#dir = dir;
    this.#v2 = v2;
  }

  /** A new group named `name` holding its processes to `cores`; an Error saying why not where the machine cannot. */
  static create(name: string, cores: number): CpuQuota | Error {
    if (!(cores > 0)) return new Error(`a CPU quota must be a positive number of cores, not ${cores}`);
    const periodUs = 100_000;
    const quotaUs = Math.max(1000, Math.round(cores * periodUs));
    const v1 = '/sys/fs/cgroup/cpu';
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers')
      ? '/sys/fs/cgroup'
      : existsSync('/sys/fs/cgroup/unified/cgroup.controllers')
        ? '/sys/fs/cgroup/unified'
        : undefined;
    try {
      if (existsSync(join(v1, 'cpu.cfs_quota_us'))) {
        const dir = join(v1, name);
        mkdirSync(dir);
        writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
        return new CpuQuota(dir, false);
      }
      if (v2 && readFileSync(join(v2, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('cpu')) {
        const dir = join(v2, name);
        mkdirSync(dir);
        writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
        return new CpuQuota(dir, true);
      }
      return new Error('no cgroup cpu controller to write: neither /sys/fs/cgroup/cpu (v1) nor cgroup v2 with cpu enabled');
    } catch (error) {
      return new Error(`cannot make a cgroup with a CPU quota (root and a writable /sys/fs/cgroup are needed): ${String(error)}`);
    }
  }

  /** Moves a process, all its threads, into the group. */
  add(pid: number): void {
    writeFileSync(join(this.#dir, 'cgroup.procs'), String(pid));
  }

  /** How often the group was held back at its quota, and for how long in all (ms), so far. */
  throttled(): { periods: number; throttledPeriods: number; throttledMs: number } {
    const stat = Object.fromEntries(
      readFileSync(join(this.#dir, 'cpu.stat'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(' ') as [string, string]),
    );
    return this.#v2
      ? { periods: Number(stat.nr_periods), throttledPeriods: Number(stat.nr_throttled), throttledMs: Number(stat.throttled_usec) / 1000 }
      : { periods: Number(stat.nr_periods), throttledPeriods: Number(stat.nr_throttled), throttledMs: Number(stat.throttled_time) / 1e6 };
  }

  /** Removes the group; its processes must have exited (or left it) first. */
  remove(): void {
    rmdirSync(this.#dir);
  }
}
