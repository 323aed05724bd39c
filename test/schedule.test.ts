import { afterEach, describe, expect, it, vi } from 'vitest';

import { CronSyntaxError, parseCron } from '../src/maintainer/cron.js';
import { compileSchedule, ScheduledJob, type Schedule } from '../src/maintainer/schedule.js';
import { instantOfWallTime } from '../src/maintainer/time-zone.js';
import { ConfigValidationError } from '../src/shared/validation.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (instant: number | undefined): string | undefined => (instant === undefined ? undefined : new Date(instant).toISOString());

/** The next `count` occurrences after `from`. */
function occurrences(schedule: Schedule, from: string, count: number): string[] {
    const times = compileSchedule(schedule);
    const result: string[] = [];
    let after = at(from);
    for (let i = 0; i < count; i++) {
        after = times.next(after, at(from))!;
        result.push(iso(after)!);
    }
    return result;
}

/**
 * Starts a job under fake timers at `start`, lets `durationMs` of fake time pass and returns the instants at which
 * runs started. `busy(n)` gives how long run n (0-based) takes, in fake ms.
 */
async function runUnderFakeTimers(
    schedule: Schedule,
    start: string,
    durationMs: number,
    options: { runOnStart?: boolean; busy?: (run: number) => number } = {},
): Promise<{ starts: string[]; maxConcurrent: number; job: ScheduledJob }> {
    vi.useFakeTimers({ now: at(start) });
    const starts: string[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const job = new ScheduledJob(
        schedule,
        async (signal) => {
            const run = starts.length;
            starts.push(iso(Date.now())!);
            concurrent++;
            maxConcurrent = Math.max(maxConcurrent, concurrent);
            const busyMs = options.busy?.(run) ?? 0;
            if (busyMs > 0) {
                await new Promise<void>((resolve) => {
                    const timer = setTimeout(resolve, busyMs);
                    signal.addEventListener('abort', () => {
                        clearTimeout(timer);
                        resolve();
                    });
                });
            }
            concurrent--;
        },
        { runOnStart: options.runOnStart },
    );
    job.start();
    await vi.advanceTimersByTimeAsync(durationMs);
    return { starts, maxConcurrent, job };
}

afterEach(() => {
    vi.useRealTimers();
});

const DAY = 86_400_000;
const MINUTE = 60_000;

describe('time zones', () => {
    it('resolves wall times in gaps and repeats', () => {
        // Europe/Berlin 2025-03-30: 02:00 CET → 03:00 CEST at 01:00 UTC.
        expect(instantOfWallTime(Date.UTC(2025, 2, 30, 2, 30), 'Europe/Berlin')).toEqual({
            instant: at('2025-03-30T01:00:00Z'),
            resolution: 'skipped',
        });
        // Europe/Berlin 2025-10-26: 03:00 CEST → 02:00 CET at 01:00 UTC; 02:30 happens at 00:30 and 01:30 UTC.
        expect(instantOfWallTime(Date.UTC(2025, 9, 26, 2, 30), 'Europe/Berlin')).toEqual({
            instant: at('2025-10-26T00:30:00Z'),
            resolution: 'repeated',
        });
        expect(instantOfWallTime(Date.UTC(2025, 6, 1, 12, 0), 'America/New_York')).toEqual({
            instant: at('2025-07-01T16:00:00Z'),
            resolution: 'exact',
        });
    });
});

describe('daily schedules', () => {
    it('crosses midnight: a time earlier in the day than now is due tomorrow', () => {
        expect(occurrences({ kind: 'daily', at: '00:30', timeZone: 'Europe/Berlin' }, '2025-06-10T20:00:00Z', 2)).toEqual([
            '2025-06-10T22:30:00.000Z', // 00:30 CEST on 11 June
            '2025-06-11T22:30:00.000Z',
        ]);
        // 23:30 in New York is the next UTC day.
        expect(occurrences({ kind: 'daily', at: '23:30', timeZone: 'America/New_York' }, '2025-01-15T12:00:00Z', 2)).toEqual([
            '2025-01-16T04:30:00.000Z',
            '2025-01-17T04:30:00.000Z',
        ]);
    });

    it('Europe/Berlin: a skipped 02:30 runs once at 03:00, a repeated 02:30 runs once', () => {
        expect(occurrences({ kind: 'daily', at: '02:30', timeZone: 'Europe/Berlin' }, '2025-03-28T12:00:00Z', 3)).toEqual([
            '2025-03-29T01:30:00.000Z', // CET
            '2025-03-30T01:00:00.000Z', // the gap: 03:00 CEST
            '2025-03-31T00:30:00.000Z', // CEST
        ]);
        expect(occurrences({ kind: 'daily', at: '02:30', timeZone: 'Europe/Berlin' }, '2025-10-25T12:00:00Z', 2)).toEqual([
            '2025-10-26T00:30:00.000Z', // first 02:30 (CEST); not again at 01:30 UTC (second 02:30, CET)
            '2025-10-27T01:30:00.000Z',
        ]);
    });

    it('America/New_York: both transitions', () => {
        expect(occurrences({ kind: 'daily', at: '02:30', timeZone: 'America/New_York' }, '2025-03-08T12:00:00Z', 3)).toEqual([
            '2025-03-09T07:00:00.000Z', // 02:30 does not exist: 03:00 EDT
            '2025-03-10T06:30:00.000Z',
            '2025-03-11T06:30:00.000Z',
        ]);
        expect(occurrences({ kind: 'daily', at: '01:30', timeZone: 'America/New_York' }, '2025-11-01T12:00:00Z', 2)).toEqual([
            '2025-11-02T05:30:00.000Z', // 01:30 EDT; the repeat at 06:30 UTC (EST) is skipped
            '2025-11-03T06:30:00.000Z',
        ]);
    });

    it('runs on schedule with fake timers across the spring transition, in both zones', async () => {
        const berlin = await runUnderFakeTimers(
            { kind: 'daily', at: '02:30', timeZone: 'Europe/Berlin' },
            '2025-03-28T12:00:00Z',
            4 * DAY,
        );
        expect(berlin.starts).toEqual([
            '2025-03-29T01:30:00.000Z',
            '2025-03-30T01:00:00.000Z',
            '2025-03-31T00:30:00.000Z',
            '2025-04-01T00:30:00.000Z',
        ]);
        await berlin.job.stop();
        vi.useRealTimers();

        const newYork = await runUnderFakeTimers(
            { kind: 'daily', at: '01:30', timeZone: 'America/New_York' },
            '2025-11-01T00:00:00Z',
            3 * DAY,
        );
        expect(newYork.starts).toEqual(['2025-11-01T05:30:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z']);
        await newYork.job.stop();
    });
});

describe('interval schedules', () => {
    it('keeps to the grid from the start (no drift)', async () => {
        const { starts, job } = await runUnderFakeTimers({ kind: 'interval', everyMillis: MINUTE }, '2025-05-01T00:00:00Z', 4 * MINUTE, {
            runOnStart: true,
            busy: () => 7_000, // each run takes 7 s: now + interval would drift by 7 s per run
        });
        expect(starts).toEqual([
            '2025-05-01T00:00:00.000Z',
            '2025-05-01T00:01:00.000Z',
            '2025-05-01T00:02:00.000Z',
            '2025-05-01T00:03:00.000Z',
            '2025-05-01T00:04:00.000Z',
        ]);
        await job.stop();
    });

    it('runs a tick missed while busy once afterwards; several missed ticks collapse into one', async () => {
        const { starts, maxConcurrent, job } = await runUnderFakeTimers(
            { kind: 'interval', everyMillis: MINUTE },
            '2025-05-01T00:00:00Z',
            5 * MINUTE,
            { busy: (run) => (run === 0 ? 150_000 : 1_000) }, // the first run (at 00:01) lasts until 00:03:30
        );
        expect(starts).toEqual([
            '2025-05-01T00:01:00.000Z',
            '2025-05-01T00:03:30.000Z', // 00:02 and 00:03 were missed: one run right after the busy one
            '2025-05-01T00:04:00.000Z', // back on the grid
            '2025-05-01T00:05:00.000Z',
        ]);
        expect(maxConcurrent).toBe(1);
        await job.stop();
    });
});

describe('cron schedules', () => {
    it('parses ranges, steps, lists and names (croner)', () => {
        // 1 or 15 of Jan–Mar and Dec, or any weekday, at 9:00, 13:00, 17:00 and :30 past: from Sat 1 Mar 2025.
        expect(occurrences({ kind: 'cron', expression: '0,30 9-17/4 1,15 jan-mar,DEC mon-fri', timeZone: 'UTC' }, '2025-02-28T23:00:00Z', 7)).toEqual([
            '2025-03-01T09:00:00.000Z', // Saturday the 1st: by day of month
            '2025-03-01T09:30:00.000Z',
            '2025-03-01T13:00:00.000Z',
            '2025-03-01T13:30:00.000Z',
            '2025-03-01T17:00:00.000Z',
            '2025-03-01T17:30:00.000Z',
            '2025-03-03T09:00:00.000Z', // Monday: by day of week (Sunday the 2nd matches neither)
        ]);
        expect(occurrences({ kind: 'cron', expression: '0 0 * * 7', timeZone: 'UTC' }, '2025-06-01T00:00:00Z', 1)).toEqual(['2025-06-08T00:00:00.000Z']); // 7 is Sunday
        expect(occurrences({ kind: 'cron', expression: '5-59/20 * * * *', timeZone: 'UTC' }, '2025-06-01T00:00:00Z', 3)).toEqual([
            '2025-06-01T00:05:00.000Z',
            '2025-06-01T00:25:00.000Z',
            '2025-06-01T00:45:00.000Z',
        ]);
        expect(occurrences({ kind: 'cron', expression: '@hourly', timeZone: 'UTC' }, '2025-06-01T00:10:00Z', 1)).toEqual(['2025-06-01T01:00:00.000Z']);
        expect(occurrences({ kind: 'cron', expression: '@midnight', timeZone: 'UTC' }, '2025-06-01T00:10:00Z', 1)).toEqual(['2025-06-02T00:00:00.000Z']);
        expect(() => parseCron('0 0 * * * *')).toThrow(CronSyntaxError); // no seconds field
        expect(() => parseCron(`${'1,'.repeat(200)}1 * * * *`)).toThrow(/longer than 256 characters/);
    });

    it('evaluates in the named zone, across the spring transition', () => {
        // Friday 7 March 2025 is in EST; Monday 10 March in EDT.
        expect(
            occurrences({ kind: 'cron', expression: '*/30 9-10 * * mon-fri', timeZone: 'America/New_York' }, '2025-03-07T16:00:00Z', 6),
        ).toEqual([
            '2025-03-10T13:00:00.000Z', // Monday 09:00 EDT (the weekend is skipped)
            '2025-03-10T13:30:00.000Z',
            '2025-03-10T14:00:00.000Z',
            '2025-03-10T14:30:00.000Z',
            '2025-03-11T13:00:00.000Z',
            '2025-03-11T13:30:00.000Z',
        ]);
    });

    it('matches day of month OR day of week when both are restricted', () => {
        // The 13th, and every Friday, at noon UTC: Fri 6 June, Fri 13 June (once), Fri 20 June.
        expect(occurrences({ kind: 'cron', expression: '0 12 13 * fri', timeZone: 'UTC' }, '2025-06-01T00:00:00Z', 4)).toEqual([
            '2025-06-06T12:00:00.000Z',
            '2025-06-13T12:00:00.000Z',
            '2025-06-20T12:00:00.000Z',
            '2025-06-27T12:00:00.000Z',
        ]);
        // 29 February only in leap years.
        expect(occurrences({ kind: 'cron', expression: '0 0 29 feb *', timeZone: 'UTC' }, '2025-01-01T00:00:00Z', 1)).toEqual([
            '2028-02-29T00:00:00.000Z',
        ]);
    });

    it('runs with fake timers, and a repeated hour fires each wall time once', async () => {
        const { starts, job } = await runUnderFakeTimers(
            { kind: 'cron', expression: '0 1-3 * * *', timeZone: 'Europe/Berlin' },
            '2025-10-25T22:00:00Z', // 00:00 CEST on the day the clocks go back
            6 * 60 * MINUTE,
        );
        expect(starts).toEqual([
            '2025-10-25T23:00:00.000Z', // 01:00 CEST
            '2025-10-26T00:00:00.000Z', // 02:00 CEST (not again at 01:00 UTC, 02:00 CET)
            '2025-10-26T02:00:00.000Z', // 03:00 CET
        ]);
        await job.stop();
    });
});

describe('once schedules and the scheduler', () => {
    it('runs once at start, or once at a given instant (beyond one timer’s longest delay)', async () => {
        const now = await runUnderFakeTimers({ kind: 'once' }, '2025-05-01T00:00:00Z', DAY);
        expect(now.starts).toEqual(['2025-05-01T00:00:00.000Z']);
        expect(now.job.nextRunAt).toBeUndefined();
        vi.useRealTimers();

        const later = await runUnderFakeTimers({ kind: 'once', at: '2025-06-15T08:00:00Z' }, '2025-05-01T00:00:00Z', 60 * DAY);
        expect(later.starts).toEqual(['2025-06-15T08:00:00.000Z']);
    });

    it('stop() cancels the next run and aborts the running one', async () => {
        vi.useFakeTimers({ now: at('2025-05-01T00:00:00Z') });
        const seen: boolean[] = [];
        const job = new ScheduledJob(
            { kind: 'interval', everyMillis: MINUTE },
            (signal) =>
                new Promise<void>((resolve) => {
                    signal.addEventListener('abort', () => {
                        seen.push(signal.aborted);
                        resolve();
                    });
                }),
        );
        job.start();
        expect(iso(job.nextRunAt)).toBe('2025-05-01T00:01:00.000Z');
        await vi.advanceTimersByTimeAsync(MINUTE);
        expect(job.running).toBe(true);
        await job.stop();
        expect(seen).toEqual([true]);
        expect(job.running).toBe(false);
        expect(job.nextRunAt).toBeUndefined();
        expect(vi.getTimerCount()).toBe(0);
    });

    it('a failing run reports its error and the schedule goes on', async () => {
        vi.useFakeTimers({ now: at('2025-05-01T00:00:00Z') });
        const errors: unknown[] = [];
        let runs = 0;
        const job = new ScheduledJob(
            { kind: 'interval', everyMillis: MINUTE },
            async () => {
                runs++;
                throw new Error(`run ${runs} failed`);
            },
            { onError: (error) => errors.push(error) },
        );
        job.start();
        await vi.advanceTimersByTimeAsync(3 * MINUTE);
        expect(runs).toBe(3);
        expect(errors.map((error) => (error as Error).message)).toEqual(['run 1 failed', 'run 2 failed', 'run 3 failed']);
        await job.stop();
    });
});

describe('bad schedules', () => {
    const refusal = (schedule: unknown): string => {
        try {
            compileSchedule(schedule as Schedule);
        } catch (error) {
            expect(error).toBeInstanceOf(ConfigValidationError);
            return (error as Error).message;
        }
        throw new Error('accepted');
    };

    it('are refused with the field named', () => {
        expect(refusal({ kind: 'daily', at: '24:00' })).toBe(
            'Invalid schedule: schedule.at: must be a time of day written HH:MM (00:00 to 23:59) (got "24:00")',
        );
        expect(refusal({ kind: 'daily', at: '03:00', timeZone: 'Europe/Atlantis' })).toMatch(
            /^Invalid schedule: schedule\.timeZone: must be an IANA time zone name/,
        );
        expect(refusal({ kind: 'cron', expression: '0 24 * * *' })).toBe(
            'Invalid schedule: schedule.expression: is not a valid cron expression: CronPattern: Invalid value for hour: 24 (got "0 24 * * *")',
        );
        expect(refusal({ kind: 'cron', expression: '0 0 * *' })).toMatch(/schedule\.expression: .*expected 5 fields/);
        expect(refusal({ kind: 'cron', expression: '0 0 30 feb *' })).toMatch(/schedule\.expression: .*never runs/);
        expect(refusal({ kind: 'cron', expression: '*/0 * * * *' })).toMatch(/schedule\.expression: .*illegal stepping: 0/);
        expect(refusal({ kind: 'cron', expression: '0 0 * * funday' })).toMatch(/schedule\.expression: .*\(funday\) contains illegal characters/);
        expect(refusal({ kind: 'interval', everyMillis: 10 })).toBe('Invalid schedule: schedule.everyMillis: must be at least 1000 (got 10)');
        expect(refusal({ kind: 'interval', everyMillis: 60_000, every: 1 })).toMatch(/schedule: has unknown key "every"/);
        expect(refusal({ kind: 'weekly' })).toMatch(/schedule\.kind: must be one of "once", "daily", "interval", "cron"/);
        expect(refusal({ kind: 'once', at: 'next tuesday' })).toMatch(/schedule\.at: must be an ISO date-time/);
    });
});
