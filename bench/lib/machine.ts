/**
 * What the numbers were measured on: CPU, cores, memory, Node and the versions of the libraries compared.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { LoadAverage, MachineInfo } from './types.js';

/** The load average now, rounded to two decimals. */
export function loadAverage(): LoadAverage {
    const [one, five, fifteen] = os.loadavg().map((value) => Math.round(value * 100) / 100);
    return [one!, five!, fifteen!];
}

/** The machine and the versions of Crawlee, Playwright, tough-cookie and mysql2 installed. */
export function machineInfo(): MachineInfo {
    const cpus = os.cpus();
    return {
        cpuModel: cpus[0]?.model.trim() ?? 'unknown',
        cores: cpus.length,
        node: process.version,
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        totalMemoryGb: Math.round(os.totalmem() / 2 ** 30),
        versions: Object.fromEntries(
            ['crawlee', 'playwright', 'tough-cookie', 'got-scraping', 'mysql2'].map((name) => [name, packageVersion(name)]),
        ),
    };
}

/** The installed version of a package, from its package.json (found next to its entry point, else in node_modules). */
function packageVersion(name: string): string {
    for (const dir of candidateDirs(name)) {
        for (let current = dir; ; current = path.dirname(current)) {
            const file = path.join(current, 'package.json');
            if (existsSync(file)) {
                const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
                if (manifest.name === name && manifest.version) return manifest.version;
            }
            if (path.dirname(current) === current) break;
        }
    }
    return 'not installed';
}

function candidateDirs(name: string): string[] {
    const dirs = [fileURLToPath(new URL(`../../node_modules/${name}/`, import.meta.url))];
    try {
        // Not every loader supports import.meta.resolve (vitest's does not); node_modules is the fallback.
        dirs.unshift(path.dirname(fileURLToPath(import.meta.resolve(name))));
    } catch {
        // fall back to node_modules
    }
    return dirs;
}
