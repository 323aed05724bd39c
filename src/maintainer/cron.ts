import { Cron } from 'croner';

import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';
import { offsetAt, wallTimeAt } from './time-zone.js';

/**
 * Five-field cron expressions (`minute hour day-of-month month day-of-week`), parsed and evaluated by croner, with
 * cron's semantics: `*`, values, ranges `a-b`, steps `*&#47;n` `a-b/n`, lists, month and day names (0 and 7 are
 * Sunday), a wall time repeated when the clocks go back fires once (at its first occurrence), the macros
 * `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`; when both day-of-month and day-of-week
 * are restricted a day matches if **either** does (croner's `domAndDow: false`), as in Vixie cron.
 */

/** Thrown by {@link parseCron}; the message is croner's (what is wrong, and where) or ours for what croner allows. */
export class CronSyntaxError extends CrawleeSessionsError {
    override readonly name = 'CronSyntaxError';

    constructor(message: string, options?: { cause?: unknown }) {
        super(ERROR_CODES.cronSyntax, message, options);
    }
}

const MACROS: Record<string, string> = {
    '@yearly': '0 0 1 1 *',
    '@annually': '0 0 1 1 *',
    '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *',
    '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *',
};

const HOUR = 3_600_000;

/** Whether the wall time at `instant` already occurred earlier that night (the second pass of a repeated hour). */
function isRepeatedWallTime(instant: number, timeZone: string): boolean {
    const delta = offsetAt(instant - 3 * HOUR, timeZone) - offsetAt(instant, timeZone);
    return delta > 0 && wallTimeAt(instant - delta, timeZone) === wallTimeAt(instant, timeZone);
}

/** The longest expression accepted (a real one is a few dozen characters). */
const MAX_EXPRESSION_LENGTH = 256;

/** A parsed cron expression in a time zone: when it fires next. */
export interface CronTimes {
    /** The first instant strictly after `after` (ms since the epoch) the expression matches, or undefined. */
    nextAfter(after: number): number | undefined;
}

/**
 * Parses a cron expression (in `timeZone`, default UTC, for evaluation). Throws {@link CronSyntaxError} for anything
 * but five fields (no seconds or years), croner's refusals (`hour: 24 is out of range`-style messages from croner),
 * and expressions that can never fire (`0 0 30 2 *`).
 */
export function parseCron(expression: string, timeZone = 'UTC'): CronTimes {
    if (expression.length > MAX_EXPRESSION_LENGTH) throw new CronSyntaxError(`longer than ${MAX_EXPRESSION_LENGTH} characters`);
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
    let cron: Cron;
    try {
        cron = new Cron(source, { timezone: timeZone, paused: true, mode: '5-part', domAndDow: false });
    } catch (error) {
        throw new CronSyntaxError((error as Error).message, { cause: error });
    }
    const nextRun = (after: number): number | undefined => cron.nextRun(new Date(after))?.getTime() ?? undefined;
    // When the clocks go back, croner fires a repeated wall time twice; cron (and this package) once, at its first.
    const nextAfter = (after: number): number | undefined => {
        let instant = nextRun(after);
        for (let skipped = 0; instant !== undefined && skipped < 120 && isRepeatedWallTime(instant, timeZone); skipped++) instant = nextRun(instant);
        return instant;
    };
    // Croner accepts days no month has (30 February): refuse an expression that never fires.
    if (nextAfter(Date.UTC(2024, 0, 1)) === undefined) throw new CronSyntaxError('no date matches the day and month fields, so it never runs');
    return { nextAfter };
}
