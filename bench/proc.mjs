// What a process costs, read from Linux's /proc: resident memory and CPU time.
import { readFileSync, writeFileSync } from 'node:fs';

/** @param {number} pid @param {string} field e.g. VmRSS, VmHWM */
function statusKiB(pid, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]);
}

/** @param {number} pid */
export function rssKiB(pid) {
  return statusKiB(pid, 'VmRSS');
}

/** @param {number} pid */
export function peakRssKiB(pid) {
  return statusKiB(pid, 'VmHWM');
}

/**
 * Resets VmHWM to the current RSS (Linux: "5" in clear_refs), so the next
 * peak read belongs to the work that follows. Returns false where not allowed.
 * @param {number} pid
 */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples VmRSS every `intervalMs` until stopped; a second view of the peak
 * that does not depend on clear_refs.
 * @param {number} pid
 * @param {number} intervalMs
 */
export function sampleRss(pid, intervalMs) {
  let maxKiB = rssKiB(pid);
  const timer = setInterval(() => {
    maxKiB = Math.max(maxKiB, rssKiB(pid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(maxKiB, rssKiB(pid));
    },
  };
}

/**
 * User + system CPU time of a process, in microseconds.
 * @param {number} pid
 */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after "pid (comm)"; clock ticks are 100 Hz on Linux.
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
