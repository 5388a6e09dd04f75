// What `npm run bench:e2e` reads from Linux /proc: CPU time of a process, of a whole
// PostgreSQL server, of the machine, and a process's resident memory. Clock ticks are
// taken as 10 ms (USER_HZ = 100, `getconf CLK_TCK` on Linux x86-64).
import { readdir, readFile } from 'node:fs/promises';

const TICK_MS = 10;

/** Fields 3 and on of /proc/<pid>/stat (after the parenthesised command, which may hold spaces); undefined when the process is gone. */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU time (utime + stime) of process `pid` so far, ms; NaN when it is gone. */
export async function processCpuMs(pid: number): Promise<number> {
  const f = await statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) * TICK_MS : NaN;
}

/**
 * CPU time of the whole PostgreSQL server whose postmaster is `postmasterPid`, ms: the
 * postmaster's own utime + stime, its reaped children's (cutime + cstime: backends and
 * workers that exited), and the utime + stime of its live children. NaN when the
 * postmaster is gone.
 */
export async function postgresCpuMs(postmasterPid: number): Promise<number> {
  const own = await statFields(postmasterPid);
  if (!own) return NaN;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = await statFields(Number(entry));
    if (f && Number(f[1]) === postmasterPid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
}

/** The machine's CPU time so far, all cores, ms: `busy` (everything but idle and iowait) and `total`. */
export async function machineCpuMs(): Promise<{ busy: number; total: number }> {
  const first = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const v = first.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = v[3]! + v[4]!;
  return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
}

/** Resident set size (VmRSS) of `pid`, KiB; NaN when it is gone. */
export async function rssKiB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** The parent pid of `pid`; undefined when it is gone. */
export async function parentPid(pid: number): Promise<number | undefined> {
  const f = await statFields(pid);
  return f ? Number(f[1]) : undefined;
}
