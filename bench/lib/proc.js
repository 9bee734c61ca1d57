// What the harness reads from /proc and asks of the kernel: CPU time and RSS of a process, CPU
// pinning, and the open-file limit.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  // 100 is Linux's USER_HZ everywhere that matters.
}

/** User + system CPU seconds of `pid` (all its threads), or null once it is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 2 (comm) may contain spaces: count from the closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/**
 * CPU seconds each core in `cores` spent on tasks (user, nice, system) and lost to the hypervisor
 * (steal), summed from /proc/stat, and its softirq seconds apart. Less the broker's own CPU time,
 * the first is what other processes took from the broker's core while it was measured. Softirq is
 * left out of it: on loopback most of it is the kernel delivering what the broker itself sent, which
 * /proc/<pid>/stat does not charge to the broker.
 */
export function coreSeconds(cores) {
  const wanted = new Set(String(cores).split(',').map((c) => `cpu${c.trim()}`));
  let busy = 0;
  let softirqTicks = 0;
  for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
    const f = line.split(' ');
    if (!wanted.has(f[0])) continue;
    const [user, nice, system, , , , softirq, steal] = f.slice(1).map(Number);
    busy += user + nice + system + steal;
    softirqTicks += softirq;
  }
  return { busy: busy / clockTicks, softirq: softirqTicks / clockTicks };
}

/** { rssKb, hwmKb } of `pid` from /proc/<pid>/status, or null once it is gone. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { rssKb: rss ? Number(rss[1]) : null, hwmKb: hwm ? Number(hwm[1]) : null };
  } catch {
    return null;
  }
}

/** Pins every thread of `pid` to `cpus` (a taskset list such as "1"); false if taskset is missing. */
export function pin(pid, cpus) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpus), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The open-file limits of this process: { soft, hard }. */
export function fileLimits() {
  const limits = readFileSync('/proc/self/limits', 'latin1');
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits);
  const n = (s) => (s === 'unlimited' ? Infinity : Number(s));
  return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: 1024, hard: 1024 };
}

/**
 * Raises this process's soft open-file limit to its hard limit (children inherit it). Raising the
 * hard limit needs CAP_SYS_RESOURCE, which a container usually lacks, so it is only attempted.
 */
export function raiseFileLimit(wanted) {
  const before = fileLimits();
  const attempt = (soft, hard) => {
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (before.hard < wanted) attempt(wanted, wanted);
  const mid = fileLimits();
  if (mid.soft < mid.hard) attempt(mid.hard === Infinity ? 1048576 : mid.hard, mid.hard === Infinity ? 'unlimited' : mid.hard);
  return { before, after: fileLimits() };
}

export function cpuCount() {
  return readFileSync('/proc/cpuinfo', 'latin1').split('\n').filter((l) => l.startsWith('processor')).length;
}

export function cpuModel() {
  const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'latin1'));
  return m ? m[1].trim() : 'unknown';
}

export function memTotalKb() {
  const m = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'latin1'));
  return m ? Number(m[1]) : null;
}

/** Load average, for the record: a busy neighbour shows here. */
export function loadAverage() {
  return readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).map(Number);
}
