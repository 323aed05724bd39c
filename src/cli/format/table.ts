import { formatSpan } from '../../shared/time.js';

export { formatTable, oneLine, type Column } from '../../shared/table.js';

/** An instant as `2025-06-01 10:00 UTC (3m ago)`, relative to `now`; `-` for null. */
export function formatInstant(instant: number | null | undefined, now = Date.now()): string {
    if (instant === null || instant === undefined) return '-';
    const text = `${new Date(instant).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
    const delta = instant - now;
    const span = formatSpan(Math.abs(delta));
    return `${text} (${delta >= 0 ? `in ${span}` : `${span} ago`})`;
}

export { formatSpan };

/** JSON with two-space indentation and a final newline, as every `--json` output is printed. */
export function toJsonOutput(value: unknown): string {
    return `${JSON.stringify(value, null, 2)}\n`;
}
