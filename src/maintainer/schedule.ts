import { z } from 'zod';

import { renameDeprecated } from '../shared/deprecation.js';
import { parseWithZod } from '../shared/validation.js';
import { CronSyntaxError, parseCron } from './cron.js';
import { instantOfWallTime, isValidTimeZone, offsetAt, systemTimeZone, wallTimeAt } from './time-zone.js';

/**
 * When a recipe's sessions are checked (and refreshed if they fail their check):
 *
 * - `{ kind: 'once' }`: once, when the maintainer starts (or at `at`, if given);
 * - `{ kind: 'daily', at: '03:30', timeZone: 'Europe/Berlin' }`: every day at that wall-clock time in the zone;
 *   on the day the clocks skip that time it runs once at the first valid instant after the gap (03:00 for a
 *   02:30 job), on the day they repeat it, once at its first occurrence;
 * - `{ kind: 'interval', everyMillis: 900_000 }`: on a fixed grid from the maintainer's start (no drift);
 * - `{ kind: 'cron', expression: '*&#47;15 8-18 * * mon-fri', timeZone: 'America/New_York' }`: a five-field cron
 *   expression evaluated in the zone, with the same gap and repeat rules as `daily`;
 * - `{ kind: 'beforeExpiry', marginSecs: 60, fraction: 0.1 }`: each session is refreshed ahead of its login's
 *   announced end, as crawlers renew ahead (see {@link BeforeExpirySchedule}).
 *
 * Recurring schedules never overlap a job with itself: an occurrence that falls while the job is still running
 * runs once right after it (several such occurrences collapse into one), then the schedule continues.
 */
export type Schedule = OnceSchedule | DailySchedule | IntervalSchedule | CronSchedule | BeforeExpirySchedule;

/** A {@link Schedule} as given: old field names still accepted for one more version. */
export type ScheduleInput = Schedule | DeprecatedIntervalSchedule;

/** Runs once. */
export interface OnceSchedule {
    kind: 'once';
    /** When to run: an ISO date-time, a `Date` or ms since the epoch. Default: when the scheduler starts. A past instant runs at start. */
    at?: string | Date | number;
}

/** Runs every day at a wall-clock time in a time zone. */
export interface DailySchedule {
    kind: 'daily';
    /** `HH:MM`, 24-hour clock (`03:30`, `21:05`). */
    at: string;
    /** IANA time zone name (`Europe/Berlin`, `UTC`). Default: the process's time zone. */
    timeZone?: string;
}

/** Runs on a fixed grid: start, start + every, start + 2 × every, … */
export interface IntervalSchedule {
    kind: 'interval';
    /** The period in ms, at least 1000 (no default: required). */
    everyMillis: number;
}

/** {@link IntervalSchedule} under its old field name, accepted for one more version (with a warning). */
export interface DeprecatedIntervalSchedule {
    kind: 'interval';
    /** @deprecated Renamed to `everyMillis` (Crawlee's unit names). */
    everyMs: number;
}

/** Runs when a five-field cron expression matches, in a time zone. */
export interface CronSchedule {
    kind: 'cron';
    /** `minute hour day-of-month month day-of-week`, e.g. `0 *&#47;6 * * *`, or a macro such as `@daily`. */
    expression: string;
    /** IANA time zone name. Default: the process's time zone. */
    timeZone?: string;
}

/**
 * Refreshes each session ahead of the end its stored login announces (cookie `Expires`/`Max-Age` of its session
 * tokens and of the recipe's `expiry.cookies`, a JWT `exp`, an OAuth2 `expires_in`, the recipe's `expiry.afterSecs`),
 * so that crawlers sharing the store never meet an ended login: a refresh is due when the smaller of `marginSecs` and
 * `fraction` of the lifetime remains. The maintainer wakes at the earliest due session and reads every session of
 * the recipe again each `checkEveryMillis` (to learn of logins renewed elsewhere, and of new sessions); sessions
 * whose login announces no end are checked then with the recipe's check, as an `interval` schedule would.
 */
export interface BeforeExpirySchedule {
    kind: 'beforeExpiry';
    /**
     * Refresh at the latest this many seconds before a login ends.
     * @default 60
     */
    marginSecs?: number;
    /**
     * Refresh at the latest when this fraction of a login's lifetime remains (the smaller margin wins).
     * @default 0.1
     */
    fraction?: number;
    /**
     * How often every session of the recipe is read again, and those without an announced end checked, in ms (at least 1000).
     * @default 900000
     */
    checkEveryMillis?: number;
}

/** Defaults of a {@link BeforeExpirySchedule}. */
export const BEFORE_EXPIRY_DEFAULTS = Object.freeze({ marginSecs: 60, fraction: 0.1, checkEveryMillis: 900_000 });

const timeZoneSchema = z.string().refine(isValidTimeZone, { message: 'must be an IANA time zone name such as "Europe/Berlin" or "UTC"' });

const onceSchema = z.strictObject({
    kind: z.literal('once'),
    at: z
        .union([z.string(), z.date(), z.number()])
        .refine((value) => !Number.isNaN(new Date(value).getTime()), { message: 'must be an ISO date-time, a Date or ms since the epoch' })
        .optional(),
});

const dailySchema = z.strictObject({
    kind: z.literal('daily'),
    at: z.string().regex(/^([01]?\d|2[0-3]):[0-5]\d$/, { message: 'must be a time of day written HH:MM (00:00 to 23:59)' }),
    timeZone: timeZoneSchema.optional(),
});

const intervalSchema = z.strictObject({
    kind: z.literal('interval'),
    everyMillis: z.number().int().min(1000),
});

const cronSchema = z.strictObject({
    kind: z.literal('cron'),
    expression: z.string().superRefine((expression, context) => {
        try {
            parseCron(expression);
        } catch (error) {
            if (!(error instanceof CronSyntaxError)) throw error;
            context.addIssue({ code: 'custom', message: `is not a valid cron expression: ${error.message}` });
        }
    }),
    timeZone: timeZoneSchema.optional(),
});

const beforeExpirySchema = z.strictObject({
    kind: z.literal('beforeExpiry'),
    marginSecs: z.number().finite().min(0).max(30 * 86_400).optional(),
    fraction: z.number().finite().min(0).max(0.9).optional(),
    checkEveryMillis: z.number().int().min(1000).optional(),
});

/** The zod schema of a {@link Schedule}, for embedding in larger configuration schemas (old field names renamed first). */
export const scheduleSchema = z.preprocess(
    (value) =>
        (value as { kind?: unknown } | null)?.kind === 'interval'
            ? renameDeprecated(value, 'interval schedule', { everyMs: 'everyMillis' })
            : value,
    z.discriminatedUnion('kind', [onceSchema, dailySchema, intervalSchema, cronSchema, beforeExpirySchema], {
        error: (issue) =>
            issue.code === 'invalid_union' ? 'must be one of "once", "daily", "interval", "cron", "beforeExpiry"' : undefined,
    }),
);

/** The times a schedule fires, computed from a start instant. */
export interface ScheduleTimes {
    /** `once at 2025-…`, `daily at 03:30 Europe/Berlin`, `every 15 min`, `cron "0 3 * * *" UTC`. */
    readonly description: string;
    /** True for `once`. */
    readonly once: boolean;
    /**
     * The first run of a scheduler started at `start`. `runOnStart` (recurring schedules only) makes it `start`
     * itself; otherwise it is the first occurrence after `start`.
     */
    first(start: number, runOnStart: boolean): number | undefined;
    /** The first occurrence strictly after `after`, for a scheduler started at `start`; undefined if none. */
    next(after: number, start: number): number | undefined;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** How far ahead a cron search goes: far enough for 29 February across a skipped leap year. */
const MAX_SEARCH_DAYS = 366 * 9;

/**
 * Validates a schedule (throws `ConfigValidationError` naming the bad field, e.g. `schedule.at`) and returns
 * its times.
 *
 * @param schedule The schedule, as written by the user.
 * @param what What to call it in errors. Default `schedule`.
 */
export function compileSchedule(schedule: ScheduleInput, what = 'schedule'): ScheduleTimes {
    const parsed = parseWithZod(scheduleSchema, schedule, what) as Schedule;
    return timesOf(parsed);
}

/** The times of an already validated schedule. */
export function timesOf(schedule: Schedule): ScheduleTimes {
    switch (schedule.kind) {
        case 'once': {
            const at = schedule.at === undefined ? undefined : new Date(schedule.at).getTime();
            return {
                description: at === undefined ? 'once at start' : `once at ${new Date(at).toISOString()}`,
                once: true,
                first: (start) => (at === undefined ? start : Math.max(at, start)),
                next: () => undefined,
            };
        }
        case 'interval': {
            const every = schedule.everyMillis;
            return {
                description: `every ${describeDuration(every)}`,
                once: false,
                first: (start, runOnStart) => (runOnStart ? start : start + every),
                next: (after, start) => start + (Math.floor((after - start) / every) + 1) * every,
            };
        }
        case 'daily': {
            const [hours, minutes] = schedule.at.split(':').map(Number) as [number, number];
            const timeZone = schedule.timeZone ?? systemTimeZone();
            const minuteOfDay = [hours * 60 + minutes];
            return zoned(`daily at ${schedule.at.padStart(5, '0')} ${timeZone}`, timeZone, minuteOfDay, () => true);
        }
        case 'beforeExpiry': {
            const { marginSecs, fraction, checkEveryMillis: every } = { ...BEFORE_EXPIRY_DEFAULTS, ...schedule };
            return {
                description: `before each login's end (${marginSecs} s or ${Math.round(fraction * 100)} % of its lifetime ahead), sessions read every ${describeDuration(every)}`,
                once: false,
                first: (start) => start,
                next: (after) => after + every,
            };
        }
        case 'cron': {
            const timeZone = schedule.timeZone ?? systemTimeZone();
            const cron = parseCron(schedule.expression, timeZone);
            return {
                description: `cron "${schedule.expression.trim()}" ${timeZone}`,
                once: false,
                first: (start, runOnStart) => (runOnStart ? start : cron.nextAfter(start)),
                next: (after) => cron.nextAfter(after),
            };
        }
    }
}

/**
 * Times given as minutes of the day on matching days, in a zone. Each matching wall time fires once: at its
 * instant, at its first occurrence when the clocks repeat it, and at the end of the gap when they skip it (wall
 * times inside one gap collapse into that single instant).
 */
function zoned(
    description: string,
    timeZone: string,
    minutesOfDay: readonly number[],
    dayMatchesDate: (date: Date) => boolean,
): ScheduleTimes {
    const next = (after: number): number | undefined => {
        const wallAfter = wallTimeAt(after, timeZone);
        // Wall times more than the nearby offset change before `after` map to instants before it: skip them
        // without resolving each one (a minutely cron would otherwise resolve a whole day of them).
        const nearby = [after - 2 * DAY, after, after + 2 * DAY].map((instant) => offsetAt(instant, timeZone));
        const earliestWall = wallAfter - (Math.max(...nearby) - Math.min(...nearby)) - MINUTE;
        let day = Math.floor(wallAfter / DAY) * DAY - DAY;
        for (let searched = 0; searched < MAX_SEARCH_DAYS; searched++, day += DAY) {
            if (!dayMatchesDate(new Date(day))) continue;
            for (const minute of minutesOfDay) {
                const wall = day + minute * MINUTE;
                if (wall < earliestWall) continue;
                const { instant } = instantOfWallTime(wall, timeZone);
                if (instant > after) return instant;
            }
        }
        return undefined;
    };
    return {
        description,
        once: false,
        first: (start, runOnStart) => (runOnStart ? start : next(start)),
        next: (after) => next(after),
    };
}

function describeDuration(ms: number): string {
    if (ms % DAY === 0) return `${ms / DAY} d`;
    if (ms % HOUR === 0) return `${ms / HOUR} h`;
    if (ms % MINUTE === 0) return `${ms / MINUTE} min`;
    return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Options of {@link ScheduledJob}. */
export interface ScheduledJobOptions {
    /** Recurring schedules: run once as soon as the job starts, then on schedule. Default `false`. */
    runOnStart?: boolean;
    /** Called when a run throws (the schedule goes on). Default: the error is ignored. */
    onError?: (error: unknown) => void;
    /** Called whenever the next run is (re)computed, with its instant or undefined when there is none. Default none. */
    onScheduled?: (nextRunAt: number | undefined) => void;
}

/** The soonest a job's own wish to run again is granted after a run, in ms: never a loop of runs. */
export const MIN_HINT_MILLIS = 1000;

/** The longest delay `setTimeout` accepts; longer waits are re-armed in steps. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Runs a job on a schedule with `setTimeout` (unref'd: a pending run never keeps the process alive). A run never
 * overlaps the previous one: occurrences that fall while it runs collapse into one run right after it. The
 * job receives an `AbortSignal` that fires on {@link ScheduledJob.stop}.
 */
export class ScheduledJob {
    private readonly times: ScheduleTimes;
    private readonly runOnStart: boolean;
    private readonly onError: (error: unknown) => void;
    private readonly onScheduled: (nextRunAt: number | undefined) => void;
    private timer: NodeJS.Timeout | undefined;
    private startedAt: number | undefined;
    private due: number | undefined;
    private current: Promise<void> | undefined;
    private abort = new AbortController();
    private stopped = false;

    /** When the last run started (ms since the epoch), if any. */
    lastRunAt: number | undefined;
    /** How many runs have finished. */
    runs = 0;

    /**
     * @param schedule When to run (validated; see {@link Schedule}).
     * @param job The work; gets a signal that aborts when the job is stopped. It may return when it wants to run next
     *   (ms since the epoch), if that is before the schedule's next occurrence (at least {@link MIN_HINT_MILLIS} later).
     * @param options See {@link ScheduledJobOptions}.
     */
    constructor(
        schedule: ScheduleInput | ScheduleTimes,
        private readonly job: (signal: AbortSignal) => Promise<number | void>,
        options: ScheduledJobOptions = {},
    ) {
        this.times = 'kind' in schedule ? compileSchedule(schedule) : schedule;
        this.runOnStart = options.runOnStart ?? false;
        this.onError = options.onError ?? (() => undefined);
        this.onScheduled = options.onScheduled ?? (() => undefined);
    }

    /** What the schedule is, in words. */
    get description(): string {
        return this.times.description;
    }

    /** When the next run is due (ms since the epoch); undefined when none is (stopped, or a `once` that ran). */
    get nextRunAt(): number | undefined {
        return this.stopped ? undefined : this.due;
    }

    /** True while a run is in progress. */
    get running(): boolean {
        return this.current !== undefined;
    }

    /** Starts the schedule (no-op when started). */
    start(): void {
        if (this.startedAt !== undefined || this.stopped) return;
        this.startedAt = Date.now();
        this.due = this.times.first(this.startedAt, this.runOnStart);
        this.arm();
        this.onScheduled(this.due);
    }

    /** Stops the schedule, aborts the running job's signal and waits for it to return. */
    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.abort.abort();
        await this.current;
    }

    private arm(): void {
        if (this.stopped || this.due === undefined) return;
        const delay = Math.min(this.due - Date.now(), MAX_TIMER_DELAY);
        if (delay <= 0) {
            queueMicrotask(() => this.fire()); // already due (a missed occurrence): no timer's minimum delay
            return;
        }
        this.timer = setTimeout(() => this.fire(), delay);
        this.timer.unref();
    }

    private fire(): void {
        this.timer = undefined;
        if (this.stopped || this.due === undefined) return;
        if (Date.now() < this.due) return this.arm(); // a delay longer than one timer allows
        const startedRunAt = Date.now();
        this.lastRunAt = startedRunAt;
        let wanted: number | undefined;
        this.current = (async () => {
            try {
                const next = await this.job(this.abort.signal);
                if (typeof next === 'number' && Number.isFinite(next)) wanted = Math.max(next, Date.now() + MIN_HINT_MILLIS);
            } catch (error) {
                this.onError(error);
            }
        })();
        void this.current.then(() => {
            this.current = undefined;
            this.runs++;
            // The next occurrence after the moment this run started: if it fell while the run was busy it is
            // already due and runs at once; any later ones that also passed are covered by that single run.
            const next = this.times.next(startedRunAt, this.startedAt!);
            this.due = wanted !== undefined && !this.times.once && (next === undefined || wanted < next) ? wanted : next;
            this.arm();
            if (!this.stopped) this.onScheduled(this.due);
        });
    }
}
