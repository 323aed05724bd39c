/**
 * Wall-clock time in a named IANA time zone, computed with `Intl.DateTimeFormat` (no time zone database of our
 * own). A *wall time* is written as milliseconds since the epoch as if the zone's clock were UTC: 2025-03-30
 * 02:30 in Europe/Berlin is `Date.UTC(2025, 2, 30, 2, 30)`. {@link instantOfWallTime} maps it back to a real
 * instant, resolving daylight-saving gaps and repeats.
 */

const SECOND = 1000;
const DAY = 86_400_000;

/** One formatter per zone: constructing them is the expensive part. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
    let formatter = formatters.get(timeZone);
    if (!formatter) {
        formatter = new Intl.DateTimeFormat('en-US', {
            timeZone,
            hourCycle: 'h23',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
            era: 'short',
        });
        formatters.set(timeZone, formatter);
    }
    return formatter;
}

/** True when `timeZone` is an IANA zone name (or `UTC`) this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
    try {
        formatterOf(timeZone);
        return true;
    } catch {
        return false;
    }
}

/** The zone this process runs in (`TZ`, else the system's), e.g. `Europe/Berlin`; `UTC` if unknown. */
export function systemTimeZone(): string {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The wall time (whole seconds) that a clock in `timeZone` shows at `instant`. */
export function wallTimeAt(instant: number, timeZone: string): number {
    const fields: Record<string, string> = {};
    for (const part of formatterOf(timeZone).formatToParts(new Date(instant))) fields[part.type] = part.value;
    let year = Number(fields.year);
    if (fields.era === 'BC' || fields.era === 'B') year = 1 - year;
    const wall = Date.UTC(year, Number(fields.month) - 1, Number(fields.day), Number(fields.hour), Number(fields.minute), Number(fields.second));
    // Date.UTC maps years 0–99 to 1900–1999.
    return year >= 0 && year < 100 ? new Date(wall).setUTCFullYear(year) : wall;
}

/** The zone's offset from UTC at `instant`, in ms (Europe/Berlin in summer: 7 200 000). */
export function offsetAt(instant: number, timeZone: string): number {
    return wallTimeAt(instant, timeZone) - Math.floor(instant / SECOND) * SECOND;
}

/** How a wall time maps to instants: once, twice (the clock was set back) or not at all (set forward). */
export type WallTimeResolution = 'exact' | 'repeated' | 'skipped';

/**
 * The instant at which a clock in `timeZone` shows `wall` (whole seconds), for schedules:
 *
 * - a wall time that exists once maps to that instant (`exact`);
 * - a repeated one (the hour after the clocks go back) maps to its **first** occurrence (`repeated`);
 * - a skipped one (the hour the clocks jump over) maps to the first valid instant after the gap, the moment the
 *   clocks were set forward (`skipped`): a job due at 02:30 on the day 02:00–03:00 does not exist runs at 03:00.
 */
export function instantOfWallTime(wall: number, timeZone: string): { instant: number; resolution: WallTimeResolution } {
    // The offsets in force around `wall` (a transition lies between them, if any).
    const offsets = new Set([offsetAt(wall - DAY, timeZone), offsetAt(wall, timeZone), offsetAt(wall + DAY, timeZone)]);
    const candidates = [...offsets]
        .map((offset) => wall - offset)
        .filter((instant) => wallTimeAt(instant, timeZone) === wall)
        .sort((a, b) => a - b);
    if (candidates.length > 0) {
        return { instant: candidates[0]!, resolution: candidates.length > 1 ? 'repeated' : 'exact' };
    }
    // In a gap: the clock jumped from before `wall` to after it. Find the jump by bisection between an instant
    // showing an earlier wall time and one showing a later one.
    let low = wall - Math.max(...offsets); // shows a wall time before `wall`
    let high = wall - Math.min(...offsets); // shows a wall time after `wall`
    while (high - low > SECOND) {
        const middle = Math.floor((low + high) / 2 / SECOND) * SECOND;
        if (middle <= low) break;
        if (wallTimeAt(middle, timeZone) < wall) low = middle;
        else high = middle;
    }
    return { instant: high, resolution: 'skipped' };
}
