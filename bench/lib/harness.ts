/**
 * Runs scenarios one after the other and collects their results; a scenario that fails or is skipped is
 * recorded as such and the others still run.
 */
import { loadAverage, machineInfo } from './machine.js';
import { nowMs } from './stats.js';
import { ScenarioSkipped, type BenchResults, type BenchSize, type Scenario, type ScenarioResult } from './types.js';

/** Options of {@link runBench}. */
export interface RunBenchOptions {
    /** The scenarios to choose from. */
    scenarios: readonly Scenario[];
    /** Size of every scenario. */
    size: BenchSize;
    /** Names of the scenarios to run; default: all. Unknown names are an error. */
    only?: readonly string[];
    /** Progress output; default: nothing. */
    progress?: (line: string) => void;
}

/** Runs the selected scenarios and returns the results (the caller prints and writes them). */
export async function runBench(options: RunBenchOptions): Promise<BenchResults> {
    const selected = selectScenarios(options.scenarios, options.only);
    const progress = options.progress ?? (() => undefined);
    const startedAt = new Date().toISOString();
    const loadAtStart = loadAverage();
    const start = nowMs();
    const results: ScenarioResult[] = [];
    for (const scenario of selected) {
        progress(`▶ ${scenario.name}: ${scenario.description}`);
        const scenarioStart = nowMs();
        const result: ScenarioResult = {
            name: scenario.name,
            description: scenario.description,
            status: 'ok',
            size: options.size,
            startedAt: new Date().toISOString(),
            durationMs: 0,
            rows: [],
            details: {},
        };
        try {
            const outcome = await scenario.run({ size: options.size, progress: (line) => progress(`  ${scenario.name}: ${line}`) });
            result.rows = outcome.rows;
            result.details = outcome.details;
        } catch (error) {
            result.status = error instanceof ScenarioSkipped ? 'skipped' : 'error';
            result.reason = error instanceof Error ? error.message : String(error);
            if (result.status === 'error' && error instanceof Error && error.stack) result.details = { stack: error.stack };
        }
        result.durationMs = Math.round(nowMs() - scenarioStart);
        progress(`  ${scenario.name}: ${result.status}${result.reason ? ` (${result.reason})` : ''} in ${(result.durationMs / 1000).toFixed(1)} s`);
        results.push(result);
    }
    return {
        format: 1,
        size: options.size,
        startedAt,
        durationMs: Math.round(nowMs() - start),
        machine: machineInfo(),
        load: { start: loadAtStart, end: loadAverage() },
        scenarios: results,
    };
}

/** The scenarios named in `only` (in the harness's order), or all of them. */
export function selectScenarios(scenarios: readonly Scenario[], only: readonly string[] | undefined): Scenario[] {
    if (!only?.length) return [...scenarios];
    const known = new Set(scenarios.map((scenario) => scenario.name));
    const unknown = only.filter((name) => !known.has(name));
    if (unknown.length) {
        throw new Error(`Unknown scenario ${unknown.map((name) => `"${name}"`).join(', ')}; known: ${[...known].join(', ')}.`);
    }
    return scenarios.filter((scenario) => only.includes(scenario.name));
}

/**
 * Merges a run into earlier results: scenarios of the new run replace those of the same name, the others are kept
 * (so `--only renewal` refreshes one scenario of the full-run file). The machine and times are the new run's.
 */
export function mergeResults(previous: BenchResults | undefined, next: BenchResults): BenchResults {
    if (!previous || previous.size !== next.size) return next;
    const replaced = new Map(next.scenarios.map((scenario) => [scenario.name, scenario]));
    const merged = previous.scenarios.map((scenario) => replaced.get(scenario.name) ?? scenario);
    for (const scenario of next.scenarios) {
        if (!previous.scenarios.some((old) => old.name === scenario.name)) merged.push(scenario);
    }
    return { ...next, scenarios: merged };
}
