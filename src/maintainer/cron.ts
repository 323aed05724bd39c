import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

/**
 * Five-field cron expressions (`minute hour day-of-month month day-of-week`), as in Vixie cron / cronie:
 * `*`, values, ranges `a-b`, steps `*&#47;n` `a-b/n` `a/n`, lists `a,b-c`, month names `jan`–`dec`, day names
 * `sun`–`sat` (0 and 7 are Sunday), and the macros `@yearly` `@annually` `@monthly` `@weekly` `@daily`
 * `@midnight` `@hourly`. When both day-of-month and day-of-week are restricted (neither starts with `*`), a day
 * matches if **either** does, as in cron.
 */

/** A parsed cron expression: the allowed values of each field. */
export interface CronFields {
    minutes: readonly number[];
    hours: readonly number[];
    daysOfMonth: ReadonlySet<number>;
    months: ReadonlySet<number>;
    /** 0 = Sunday … 6 = Saturday. */
    daysOfWeek: ReadonlySet<number>;
    /** False when the day-of-month field starts with `*`. */
    daysOfMonthRestricted: boolean;
    /** False when the day-of-week field starts with `*`. */
    daysOfWeekRestricted: boolean;
}

/** Thrown by {@link parseCron}; the message names the field and what is wrong with it. */
export class CronSyntaxError extends CrawleeSessionsError {
    override readonly name = 'CronSyntaxError';

    constructor(message: string, options?: { cause?: unknown }) {
        super(ERROR_CODES.cronSyntax, message, options);
    }
}

interface FieldSpec {
    name: string;
    min: number;
    max: number;
    names?: readonly string[];
    namesStartAt?: number;
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: readonly FieldSpec[] = [
    { name: 'minute', min: 0, max: 59 },
    { name: 'hour', min: 0, max: 23 },
    { name: 'day of month', min: 1, max: 31 },
    { name: 'month', min: 1, max: 12, names: MONTH_NAMES, namesStartAt: 1 },
    // 7 is accepted as Sunday and folded onto 0.
    { name: 'day of week', min: 0, max: 7, names: DAY_NAMES, namesStartAt: 0 },
];

const MACROS: Record<string, string> = {
    '@yearly': '0 0 1 1 *',
    '@annually': '0 0 1 1 *',
    '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *',
    '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *',
};

/** Longest day of each month (February: 29). */
const MONTH_LENGTHS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parses a cron expression. Throws {@link CronSyntaxError} naming the field, e.g.
 * `hour: 24 is out of range 0-23`, and refuses expressions that can never fire (`0 0 30 2 *`).
 */
export function parseCron(expression: string): CronFields {
    const trimmed = expression.trim();
    const source = MACROS[trimmed.toLowerCase()] ?? trimmed;
    if (source.startsWith('@')) {
        throw new CronSyntaxError(`unknown macro ${JSON.stringify(trimmed)} (known: ${Object.keys(MACROS).join(', ')})`);
    }
    const parts = source.split(/\s+/);
    if (parts.length !== 5) {
        throw new CronSyntaxError(
            `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length === 1 && parts[0] === '' ? 0 : parts.length}`,
        );
    }
    const [minutes, hours, daysOfMonth, months, daysOfWeek] = parts.map((part, index) => parseField(part, FIELDS[index]!));
    const weekDays = new Set([...daysOfWeek!].map((day) => day % 7));
    const fields: CronFields = {
        minutes: [...minutes!].sort((a, b) => a - b),
        hours: [...hours!].sort((a, b) => a - b),
        daysOfMonth: daysOfMonth!,
        months: months!,
        daysOfWeek: weekDays,
        daysOfMonthRestricted: !parts[2]!.startsWith('*'),
        daysOfWeekRestricted: !parts[4]!.startsWith('*'),
    };
    if (fields.daysOfMonthRestricted && !fields.daysOfWeekRestricted) {
        const possible = [...fields.months].some((month) => [...fields.daysOfMonth].some((day) => day <= MONTH_LENGTHS[month - 1]!));
        if (!possible) throw new CronSyntaxError('day of month: no selected month has any of the selected days, so it never runs');
    }
    return fields;
}

/** Whether a calendar day matches the day fields (`month` 1–12, `weekDay` 0 = Sunday). */
export function cronDayMatches(fields: CronFields, month: number, day: number, weekDay: number): boolean {
    if (!fields.months.has(month)) return false;
    const byMonthDay = fields.daysOfMonth.has(day);
    const byWeekDay = fields.daysOfWeek.has(weekDay);
    if (fields.daysOfMonthRestricted && fields.daysOfWeekRestricted) return byMonthDay || byWeekDay;
    return byMonthDay && byWeekDay;
}

function parseField(text: string, spec: FieldSpec): Set<number> {
    const values = new Set<number>();
    for (const item of text.split(',')) {
        if (item === '') throw new CronSyntaxError(`${spec.name}: empty list item in ${JSON.stringify(text)}`);
        const [rangeText, stepText, extra] = item.split('/');
        if (extra !== undefined) throw new CronSyntaxError(`${spec.name}: more than one "/" in ${JSON.stringify(item)}`);
        let step = 1;
        if (stepText !== undefined) {
            if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
                throw new CronSyntaxError(`${spec.name}: the step in ${JSON.stringify(item)} must be a positive whole number`);
            }
            step = Number(stepText);
        }
        let low: number;
        let high: number;
        if (rangeText === '*') {
            low = spec.min;
            high = spec.max;
        } else if (rangeText!.includes('-')) {
            const [lowText, highText, more] = rangeText!.split('-');
            if (more !== undefined) throw new CronSyntaxError(`${spec.name}: malformed range ${JSON.stringify(rangeText)}`);
            low = parseValue(lowText!, spec);
            high = parseValue(highText!, spec);
            if (low > high) throw new CronSyntaxError(`${spec.name}: range ${JSON.stringify(rangeText)} runs backwards`);
        } else {
            low = parseValue(rangeText!, spec);
            // `a/n` means from a to the end of the field, every n.
            high = stepText === undefined ? low : spec.max;
        }
        for (let value = low; value <= high; value += step) values.add(value);
    }
    return values;
}

function parseValue(text: string, spec: FieldSpec): number {
    const lower = text.toLowerCase();
    const nameIndex = spec.names?.indexOf(lower) ?? -1;
    if (nameIndex >= 0) return nameIndex + (spec.namesStartAt ?? 0);
    if (!/^\d+$/.test(text)) {
        const namesHint = spec.names ? ` or a name (${spec.names[0]}, ${spec.names[1]}, …)` : '';
        throw new CronSyntaxError(`${spec.name}: ${JSON.stringify(text)} is not a number${namesHint}`);
    }
    const value = Number(text);
    if (value < spec.min || value > spec.max) {
        throw new CronSyntaxError(`${spec.name}: ${value} is out of range ${spec.min}-${spec.max}`);
    }
    return value;
}
