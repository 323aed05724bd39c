import stringWidth from 'string-width';

/** A column of a {@link formatTable} table. */
export interface Column<Row> {
    /** The heading. */
    title: string;
    /** The cell of a row, as text (control characters are flattened to spaces). */
    cell: (row: Row) => string;
    /** Cut cells wider than this many terminal columns with `…`. Default: no limit. */
    maxWidth?: number;
    /** Right-align the column (numbers). Default false. */
    alignRight?: boolean;
}

/**
 * Rows as a plain-text table: a heading line, then one line per row, columns padded to their widest cell and
 * separated by two spaces; trailing spaces trimmed. Every cell stays on one line. Widths are terminal columns
 * (`string-width`): a CJK character or an emoji takes two, a combining mark none, so ids in any script line up.
 */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
    const cells = rows.map((row) => columns.map((column) => fitCell(column.cell(row), column.maxWidth)));
    const lines = [columns.map((column) => oneLine(column.title)), ...cells];
    const widths = columns.map((_, index) => Math.max(...lines.map((line) => stringWidth(line[index]!))));
    return lines
        .map((line) =>
            line
                .map((cell, index) => pad(cell, widths[index]!, columns[index]!.alignRight === true))
                .join('  ')
                .trimEnd(),
        )
        .join('\n');
}

/** Replaces control characters (CR, LF, tab, ESC, …) with spaces, so that a value from a store cannot break a line. */
export function oneLine(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

function pad(cell: string, width: number, right: boolean): string {
    const fill = ' '.repeat(Math.max(0, width - stringWidth(cell)));
    return right ? fill + cell : cell + fill;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function fitCell(text: string, maxWidth: number | undefined): string {
    const flat = oneLine(text);
    if (maxWidth === undefined || stringWidth(flat) <= maxWidth) return flat;
    let kept = '';
    let width = 0;
    for (const { segment } of graphemes.segment(flat)) {
        const next = stringWidth(segment);
        if (width + next > maxWidth - 1) break;
        kept += segment;
        width += next;
    }
    return `${kept}…`;
}
