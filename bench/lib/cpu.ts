/**
 * CPU time a crawl costs, as the kernel counts it: this process's user and system time plus that of its children
 * that have ended (a Playwright crawl's Chromium processes, once the crawler closed them). Unlike a throughput, it
 * does not move when the machine lends the cores to someone else for a while, so plugin and limit compare well on
 * a noisy machine: the crawl the process could run at full load is the one whose CPU time per request is smaller.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on every Linux port in use). */
const TICKS_PER_SECOND = 100;

/** Microseconds of CPU used so far by this process and its ended children. */
export function cpuMicrosSoFar(): number {
    const fromProc = procCpuMicros();
    if (fromProc !== undefined) return fromProc;
    const usage = process.cpuUsage(); // elsewhere: this process only
    return usage.user + usage.system;
}

function procCpuMicros(): number | undefined {
    let stat: string;
    try {
        stat = readFileSync('/proc/self/stat', 'utf8');
    } catch {
        return undefined;
    }
    // The fields after the command name (which may hold spaces: split after its closing parenthesis); cutime and
    // cstime, fields 16 and 17 of proc(5), are indexes 13 and 14 here. They count in ticks: this process's own time
    // comes finer from process.cpuUsage().
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const childTicks = Number(fields[13]) + Number(fields[14]);
    if (!Number.isFinite(childTicks)) return undefined;
    const own = process.cpuUsage();
    return own.user + own.system + childTicks * (1e6 / TICKS_PER_SECOND);
}
