/**
 * import: what `import 'crawlee-sessions'` costs a crawler at start-up, against `import 'crawlee'` itself. The package
 * is built as a user installs it (test/support/built-package.ts); each import runs in a fresh Node process that times
 * the dynamic `import()` alone (process start-up is the same for both sides and left out), in ABBA rounds after one
 * warm-up round each (the first read of the files from disk). Goal: ≤ 1.2× Crawlee's own import.
 */
import { spawn } from 'node:child_process';

import { buildPackage } from '../../test/support/built-package.js';
import { alternate } from '../lib/rounds.js';
import { metricRow } from '../lib/rows.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchSize, Scenario, ScenarioOutcome } from '../lib/types.js';

const SIZES: Record<BenchSize, { rounds: number; warmups: number }> = {
    tiny: { rounds: 1, warmups: 0 },
    quick: { rounds: 4, warmups: 1 },
    full: { rounds: 10, warmups: 1 },
};

const GOAL_RATIO = 1.2;

const CHILD = `const start = performance.now();
await import(process.argv[1]);
process.stdout.write(JSON.stringify({ ms: performance.now() - start }));
process.exit(0);`;

/** Imports `specifier` in a fresh Node process run in `cwd` and resolves with the milliseconds the import took. */
function timeImport(specifier: string, cwd: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, specifier], {
            cwd,
            env: { ...process.env, CRAWLEE_LOG_LEVEL: 'OFF' },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code) => {
            if (code !== 0) return reject(new Error(`import('${specifier}') exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
            try {
                resolve((JSON.parse(stdout) as { ms: number }).ms);
            } catch {
                reject(new Error(`import('${specifier}') printed no timing: ${stdout.slice(0, 200)}`));
            }
        });
    });
}

async function runImport(context: BenchContext): Promise<ScenarioOutcome> {
    const params = SIZES[context.size];
    context.progress('building the package (tsc) into a temporary node_modules');
    const built = await buildPackage();
    try {
        const samples = await alternate({
            rounds: params.rounds,
            warmups: params.warmups,
            sides: {
                plugin: () => timeImport('crawlee-sessions', built.appDir),
                crawlee: () => timeImport('crawlee', built.appDir),
            },
            onRound: (side, r, ms: number) => context.progress(`import ${side} ${r + 1}/${params.rounds}: ${ms.toFixed(0)} ms`),
        });
        const pluginMs = median(samples.plugin);
        const crawleeMs = median(samples.crawlee);
        return {
            rows: [
                metricRow({
                    metric: 'import time',
                    unit: 'ms',
                    plugin: pluginMs,
                    baseline: crawleeMs,
                    goal: { on: 'ratio', op: '<=', value: GOAL_RATIO },
                    note:
                        "plugin: import('crawlee-sessions') of the built package; baseline: import('crawlee'); each in a fresh " +
                        `Node process timing the import alone, median of ${params.rounds} each (ABBA); ratio = plugin/baseline`,
                }),
            ],
            details: { params, pluginMs: samples.plugin.map((ms) => round(ms)), crawleeMs: samples.crawlee.map((ms) => round(ms)) },
        };
    } finally {
        await built.remove();
    }
}

/** `import 'crawlee-sessions'` vs `import 'crawlee'` in fresh processes: ≤ 1.2×. */
export const importScenario: Scenario = {
    name: 'import',
    description: "import('crawlee-sessions') vs import('crawlee') in fresh processes: start-up cost",
    run: runImport,
};
