import { formatTable, oneLine, type Column } from '../shared/table.js';
import { formatSpan } from '../shared/time.js';

/** The store collection the maintainer keeps its status rows in (read by `crawlee-sessions status`). */
export const MAINTAINER_STATUS_COLLECTION = 'maintainer-status';

/**
 * Where a maintained session stands:
 * - `pending`: not looked at yet;
 * - `checking` / `refreshing`: under way;
 * - `valid`: its last check passed;
 * - `refreshed`: it was re-acquired by its last refresh;
 * - `failed`: its last refresh failed for good (the stored session, if any, was kept);
 * - `check-error`: its check could not be sent (e.g. the site was unreachable); nothing was changed;
 * - `busy`: another process was renewing it, so this run left it alone.
 */
export type MaintainedState = 'pending' | 'checking' | 'refreshing' | 'valid' | 'refreshed' | 'failed' | 'check-error' | 'busy';

/** One row of the maintainer's status table: one session of one recipe. Contains no secrets. */
export interface MaintainerStatusRow {
    /** The recipe's name. */
    recipe: string;
    /** The session id. */
    session: string;
    /** `http` or `browser`. */
    mode: 'http' | 'browser';
    state: MaintainedState;
    /** When the session was last checked (ms since the epoch), or null. */
    lastCheckAt: number | null;
    /** The last check's verdict in words, e.g. `valid: logged-in indicator matched: body contains "Log out"`. */
    lastCheck: string | null;
    /** When the session was last re-acquired successfully (ms since the epoch), or null. */
    lastRefreshAt: number | null;
    /** Why the last refresh failed (no secrets), or null once a refresh succeeded. */
    lastError: string | null;
    /** When the recipe runs next (ms since the epoch), or null when it will not run again. */
    nextRunAt: number | null;
    /** Failed refreshes since the last successful one. */
    failures: number;
    /** The stored session's generation after the last check or refresh, or null when nothing is stored. */
    generation: number | null;
    /** The recipe's schedule in words, e.g. `daily at 03:30 Europe/Berlin`. */
    schedule: string;
    /** When this row last changed (ms since the epoch). */
    updatedAt: number;
}

/** The key of a row in {@link MAINTAINER_STATUS_COLLECTION}. */
export function statusKey(recipe: string, session: string): string {
    return `${recipe}\u0000${session}`;
}

/** Options of {@link formatStatusTable}. */
export interface FormatStatusOptions {
    /** "now", for relative times. Default `Date.now()`. */
    now?: number;
}


/**
 * The status rows as a plain-text table, one line per session, sorted by recipe and session, with times shown
 * as ISO instants (UTC, to the second) followed by how long ago or how far ahead they are:
 *
 * ```text
 * recipe  session  last check                 state      last refresh               next run                   failures
 * shop    alice    2025-06-01 10:00:00 (2m ago)  valid   2025-06-01 03:30:01 (7h ago) 2025-06-02 03:30:00 (in 17h)  0
 * ```
 */
export function formatStatusTable(rows: readonly MaintainerStatusRow[], options: FormatStatusOptions = {}): string {
    const now = options.now ?? Date.now();
    const columns: Column<MaintainerStatusRow>[] = [
        { title: 'recipe', cell: (row) => row.recipe },
        { title: 'session', cell: (row) => row.session },
        { title: 'last check', cell: (row) => formatInstant(row.lastCheckAt, now) },
        { title: 'state', cell: (row) => row.state },
        { title: 'last refresh', cell: (row) => formatInstant(row.lastRefreshAt, now) },
        { title: 'next run', cell: (row) => formatInstant(row.nextRunAt, now) },
        { title: 'failures', cell: (row) => String(row.failures), alignRight: true },
    ];
    const sorted = [...rows].sort((a, b) => a.recipe.localeCompare(b.recipe) || a.session.localeCompare(b.session));
    const lines = [formatTable(columns, sorted)];
    if (sorted.length === 0) lines.push('(no maintained sessions yet)');
    const errors = sorted.filter((row) => row.lastError);
    for (const row of errors) lines.push(oneLine(`${row.recipe}/${row.session}: ${row.lastError}`));
    return lines.join('\n');
}

/** `2025-06-01 10:00:00 (2m ago)`, `… (in 3h)`, or `-`. */
export function formatInstant(instant: number | null, now: number): string {
    if (instant === null) return '-';
    const text = new Date(instant).toISOString().replace('T', ' ').slice(0, 19);
    const delta = instant - now;
    const span = formatSpan(Math.abs(delta));
    return `${text} (${delta >= 0 ? `in ${span}` : `${span} ago`})`;
}

