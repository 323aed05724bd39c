/**
 * The human-readable report of a run: the machine, then one table row per metric, then the notes.
 */
import type { BenchResults, MetricRow } from './types.js';

const HEADER = ['scenario', 'metric', 'plugin', 'baseline', 'ratio', 'goal', 'met?'] as const;

/** The report as plain text (the table is also valid Markdown). */
export function formatReport(results: BenchResults): string {
    const { machine } = results;
    const lines: string[] = [];
    lines.push(
        `Machine: ${machine.cpuModel} · ${machine.cores} cores · ${machine.totalMemoryGb} GB · Node ${machine.node} · ${machine.platform}`,
    );
    lines.push(`Versions: ${Object.entries(machine.versions).map(([name, version]) => `${name} ${version}`).join(' · ')}`);
    lines.push(`Size: ${results.size} · started ${results.startedAt} · ${(results.durationMs / 1000).toFixed(0)} s`);
    if (results.load) lines.push(formatLoad(results.load, machine.cores));
    lines.push('');
    lines.push(formatTable(results));
    const notes = collectNotes(results);
    if (notes.length) {
        lines.push('');
        lines.push(...notes);
    }
    return lines.join('\n');
}

/** The results table in Markdown: scenario, metric, plugin, baseline, ratio, goal, met?. */
export function formatTable(results: BenchResults): string {
    const body: string[][] = [];
    let noteNumber = 0;
    for (const scenario of results.scenarios) {
        if (scenario.status !== 'ok') {
            body.push([scenario.name, `${scenario.status}: ${scenario.reason ?? ''}`, '', '', '', '', '']);
            continue;
        }
        for (const row of scenario.rows) {
            body.push([
                scenario.name,
                row.note ? `${row.metric} [${++noteNumber}]` : row.metric,
                withUnit(row.plugin, row.unit),
                withUnit(row.baseline, row.unit),
                row.ratio === null ? '' : row.ratio.toFixed(2),
                row.goal,
                verdict(row),
            ]);
        }
    }
    const widths = HEADER.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
    const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
    return [line(HEADER), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}

/** The load averages at start and end; flags a run where other work competed for the cores. */
export function formatLoad(load: NonNullable<BenchResults['load']>, cores: number): string {
    const show = (values: readonly number[]) => values.map((value) => value.toFixed(2)).join(' / ');
    const busiest = Math.max(load.start[0], load.end[0]);
    const warning = busiest > cores ? ` · NOISY: load above the ${cores} cores, timings are not reliable` : '';
    return `Load average (1 / 5 / 15 min): start ${show(load.start)} · end ${show(load.end)}${warning}`;
}

function collectNotes(results: BenchResults): string[] {
    const notes: string[] = [];
    for (const scenario of results.scenarios) {
        if (scenario.status !== 'ok') continue;
        for (const row of scenario.rows) {
            if (row.note) notes.push(`[${notes.length + 1}] ${scenario.name} · ${row.metric}: ${row.note}`);
        }
    }
    return notes;
}

function withUnit(value: number | null, unit: string): string {
    if (value === null) return '';
    return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

function formatNumber(value: number): string {
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
}

function verdict(row: MetricRow): string {
    if (row.met === null) return '';
    return row.met ? 'yes' : 'NO';
}
