import { formatSpan } from '../../shared/time.js';

/** A column of a {@link formatTable} table. */
export interface Column<Row> {
    /** The heading. */
    title: string;
    /** The cell of a row, as text (control characters are flattened to spaces). */
    cell: (row: Row) => string;
    /** Cut cells longer than this with `…`. Default: no limit. */
    maxWidth?: number;
    /** Right-align the column (numbers). Default false. */
    alignRight?: boolean;
}

/**
 * Rows as a plain-text table: a heading line, then one line per row, columns padded to their widest cell and
 * separated by two spaces; trailing spaces trimmed. Every cell stays on one line.
 */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
    const cells = rows.map((row) => columns.map((column) => fitCell(column.cell(row), column.maxWidth)));
    const lines = [columns.map((column) => column.title), ...cells];
    const widths = columns.map((_, index) => Math.max(...lines.map((line) => line[index]!.length)));
    return lines
        .map((line) =>
            line
                .map((cell, index) => (columns[index]!.alignRight ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!)))
                .join('  ')
                .trimEnd(),
        )
        .join('\n');
}

/** Replaces control characters (CR, LF, tab, …) with spaces, so that a value from the store cannot break a line. */
export function oneLine(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u001f\u007f]/g, ' ');
}

function fitCell(text: string, maxWidth: number | undefined): string {
    const flat = oneLine(text);
    return maxWidth !== undefined && flat.length > maxWidth ? `${flat.slice(0, maxWidth - 1)}…` : flat;
}

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
