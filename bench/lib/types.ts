/**
 * The shapes every part of the benchmark harness shares: sizes, scenarios, result rows and the JSON file.
 */

/**
 * How big a run is. Every scenario runs the same code at every size, only its parameters change:
 * - `tiny`: seconds; what the test suite runs to prove every scenario works (its numbers mean nothing);
 * - `quick`: about a minute; a smoke check of the numbers while developing (`npm run bench:quick`);
 * - `full`: the sizes the goals are stated for (`npm run bench`), under about 10 minutes on 2 cores.
 */
export type BenchSize = 'tiny' | 'quick' | 'full';

/** The sizes, smallest first. */
export const BENCH_SIZES: readonly BenchSize[] = ['tiny', 'quick', 'full'];

/** What a scenario receives. */
export interface BenchContext {
    size: BenchSize;
    /** Progress output for the person running the benchmark (stderr); never part of the results. */
    progress(message: string): void;
}

/** One measured quantity, compared with its baseline and its goal. */
export interface MetricRow {
    /** What is measured, e.g. `throughput` or `stale requests`. */
    metric: string;
    /** Unit of `plugin` and `baseline`, e.g. `req/s`, `ms`, `MB`. */
    unit: string;
    /** The value measured with crawlee-sessions (a median when there were several rounds). */
    plugin: number | null;
    /** The same quantity for the baseline (plain Crawlee, plain tough-cookie, a full login, …), if there is one. */
    baseline: number | null;
    /** How the plugin compares with the baseline (see {@link Goal.ratio}); null without a baseline. */
    ratio: number | null;
    /** The goal in words, e.g. `ratio ≥ 1.00` or `≤ 200 MB`; empty when the row is informative only. */
    goal: string;
    /** Whether the goal was met; null for informative rows. */
    met: boolean | null;
    /** Anything a reader needs to interpret the row (what the baseline is, how it was measured). */
    note?: string;
}

/**
 * A goal on a row: compares the ratio (or the plugin value) with a bound.
 * `ratio` says how the ratio is formed: `plugin/baseline` for quantities where more is better (throughput) and
 * `baseline/plugin` for durations (a speed-up factor).
 */
export interface Goal {
    on: 'ratio' | 'plugin';
    op: '>=' | '<=' | '==';
    value: number;
}

/** What a scenario returns. */
export interface ScenarioOutcome {
    rows: MetricRow[];
    /** Raw samples, parameters and anything else worth keeping in the JSON file. */
    details: Record<string, unknown>;
}

/** A benchmark scenario. */
export interface Scenario {
    /** Selects it with `--only name`; unique. */
    name: string;
    /** One line: what it measures. */
    description: string;
    run(context: BenchContext): Promise<ScenarioOutcome>;
}

/** The result of one scenario in the JSON file. */
export interface ScenarioResult {
    name: string;
    description: string;
    /** `ok`: it ran; `skipped`: something it needs is missing (see `reason`); `error`: it failed (see `reason`). */
    status: 'ok' | 'skipped' | 'error';
    reason?: string;
    size: BenchSize;
    startedAt: string;
    durationMs: number;
    rows: MetricRow[];
    details: Record<string, unknown>;
}

/** The machine a run was measured on. */
export interface MachineInfo {
    cpuModel: string;
    cores: number;
    node: string;
    platform: string;
    totalMemoryGb: number;
    versions: Record<string, string>;
}

/** The whole JSON file (`bench/results.json`). */
export interface BenchResults {
    /** Format version of this file. */
    format: 1;
    size: BenchSize;
    startedAt: string;
    durationMs: number;
    machine: MachineInfo;
    /**
     * The machine's load average (`os.loadavg()`: 1, 5 and 15 minutes) when the run started and when it ended; a
     * load well above the core count means other work shared the CPUs and the timings are noisy. Absent in files
     * written before it was recorded.
     */
    load?: { start: LoadAverage; end: LoadAverage };
    scenarios: ScenarioResult[];
}

/** `os.loadavg()`: the 1, 5 and 15 minute load averages. */
export type LoadAverage = [number, number, number];

/** Thrown by a scenario when something it needs (an API, a database, a browser) is not available. */
export class ScenarioSkipped extends Error {
    override readonly name = 'ScenarioSkipped';
}
