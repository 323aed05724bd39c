/**
 * Builds result rows: the ratio, the goal in words and whether it was met.
 */
import { ratioOf, round } from './stats.js';
import type { Goal, MetricRow } from './types.js';

/** Options of {@link metricRow}. */
export interface MetricRowInit {
    metric: string;
    unit: string;
    plugin: number | null;
    baseline?: number | null;
    /**
     * How the ratio is formed. `'plugin/baseline'` (default) for quantities where more is better (throughput),
     * `'baseline/plugin'` for durations where the plugin's speed-up is wanted. Ignored without a baseline.
     */
    ratio?: 'plugin/baseline' | 'baseline/plugin';
    /**
     * The ratio to report instead of the ratio of `plugin` and `baseline`: the median of the ratios of paired rounds
     * (each plugin round against the baseline round next to it), which a machine whose speed drifts disturbs less.
     */
    pairedRatio?: number;
    /** The goal, if the row has one. */
    goal?: Goal;
    note?: string;
}

/** A {@link MetricRow} with its ratio and the verdict on its goal computed; numbers rounded for display. */
export function metricRow(init: MetricRowInit): MetricRow {
    const baseline = init.baseline ?? null;
    const ratio =
        baseline === null
            ? null
            : init.pairedRatio !== undefined
              ? init.pairedRatio
              : init.ratio === 'baseline/plugin'
              ? ratioOf(baseline, init.plugin)
              : ratioOf(init.plugin, baseline);
    const row: MetricRow = {
        metric: init.metric,
        unit: init.unit,
        plugin: roundOrNull(init.plugin),
        baseline: roundOrNull(baseline),
        ratio: ratio === null ? null : round(ratio, 3),
        goal: init.goal ? describeGoal(init.goal, init.unit) : '',
        met: init.goal ? meets(init.goal, init.goal.on === 'ratio' ? ratio : init.plugin) : null,
    };
    if (init.note) row.note = init.note;
    return row;
}

/** The goal in words, e.g. `ratio ≥ 0.95` or `≤ 200 MB`. */
export function describeGoal(goal: Goal, unit: string): string {
    const op = goal.op === '>=' ? '≥' : goal.op === '<=' ? '≤' : '=';
    return goal.on === 'ratio' ? `ratio ${op} ${goal.value}` : `${op} ${goal.value}${unit ? ` ${unit}` : ''}`;
}

/** Whether `value` meets the goal; false when there is no value. */
export function meets(goal: Goal, value: number | null): boolean {
    if (value === null || !Number.isFinite(value)) return false;
    if (goal.op === '>=') return value >= goal.value;
    if (goal.op === '<=') return value <= goal.value;
    return value === goal.value;
}

function roundOrNull(value: number | null): number | null {
    return value === null || !Number.isFinite(value) ? null : round(value, 4);
}
