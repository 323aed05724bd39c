import { z } from 'zod';

import type { SessionRecord } from '../../model/types.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { EXIT_OK, UsageError, describeError } from '../errors.js';
import { fromStoredCookies, liveCookies } from '../format/cookies.js';
import { storedStatusOf, type StoredSessionStatus } from '../format/status.js';
import { formatInstant, formatTable, oneLine, toJsonOutput, type Column } from '../format/table.js';
import type { CliIo } from '../io.js';
import { HELP_OPTION, STORE_OPTIONS, parseCommandLine, parseOptions, requirePositionals } from '../options.js';
import { profileDescriber } from '../profiles.js';
import { parseStoreSelection, withStore } from '../store.js';

/** One session as `list --json` prints it: no cookie values, no proxy credentials, no login values. */
export interface SessionListRow {
    id: string;
    profileIndex: number | null;
    /** The profile with its proxy password hidden (with `--profiles`), or `#index`, or null. */
    profile: string | null;
    /** Unexpired cookies. */
    cookies: number;
    /** `ok`, or `failed` when the last renewal failed for good. */
    status: StoredSessionStatus;
    lastRenewalError: string | null;
    generation: number;
    requests: number;
    successes: number;
    failures: number;
    renewals: number;
    /** ISO instant, or null. */
    lastUsedAt: string | null;
    /** ISO instant. */
    updatedAt: string;
}

const OPTIONS = {
    ...STORE_OPTIONS,
    ...HELP_OPTION,
    json: { type: 'boolean' },
    profiles: { type: 'string' },
    filter: { type: 'string' },
    sort: { type: 'string' },
    limit: { type: 'string' },
    watch: { type: 'boolean' },
    'interval-secs': { type: 'string' },
} as const;

/** The keys `--sort` takes, and the row field each one orders by. */
const SORT_KEYS = {
    id: (row: SessionListRow) => row.id,
    profile: (row: SessionListRow) => row.profileIndex ?? -1,
    cookies: (row: SessionListRow) => row.cookies,
    status: (row: SessionListRow) => row.status,
    generation: (row: SessionListRow) => row.generation,
    requests: (row: SessionListRow) => row.requests,
    failures: (row: SessionListRow) => row.failures,
    renewals: (row: SessionListRow) => row.renewals,
    'last-used': (row: SessionListRow) => row.lastUsedAt ?? '',
    updated: (row: SessionListRow) => row.updatedAt,
} as const;

type SortKey = keyof typeof SORT_KEYS;

/** The largest `--limit` and `--interval-secs` accepted (beyond that a typo is likelier than intent). */
const MAX_LIMIT = 1_000_000;
const MAX_INTERVAL_SECS = 3600;

const positiveInteger = (max: number) =>
    z
        .string()
        .regex(/^[1-9][0-9]*$/, 'must be a whole number ≥ 1')
        .transform(Number)
        .refine((value) => value <= max, `must be at most ${max}`);

const schema = z.looseObject({
    json: z.boolean().optional(),
    profiles: z.string().min(1).optional(),
    filter: z.string().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters').optional(),
    sort: z
        .string()
        .transform((value) => ({ descending: value.startsWith('-'), key: value.replace(/^-/, '') }))
        .refine((sort): sort is { descending: boolean; key: SortKey } => Object.hasOwn(SORT_KEYS, sort.key), {
            message: `must be one of ${Object.keys(SORT_KEYS).join(', ')}, optionally prefixed with - for descending (--sort=-requests)`,
        })
        .optional(),
    limit: positiveInteger(MAX_LIMIT).optional(),
    watch: z.boolean().optional(),
    'interval-secs': positiveInteger(MAX_INTERVAL_SECS).optional(),
});

type ListOptions = z.infer<typeof schema>;

/** `crawlee-sessions list`: every stored session, one line each; no secrets. */
export const listCommand: CliCommand = {
    name: 'list',
    summary: 'list the stored sessions (no secrets); --watch for a live table',
    help: [
        'crawlee-sessions list [--filter TEXT] [--sort [-]KEY] [--limit N] [--profiles FILE] [--json] [--watch] [store options]',
        '',
        'Lists every stored session: id, profile, cookies (count), status (ready or failed), generation, requests,',
        'failures, renewals, last used. Never shows cookie values, login values or proxy passwords. Reads a snapshot:',
        'works while a crawl uses the store.',
        '',
        '  --filter TEXT       only sessions whose id, profile or status contains TEXT (case-insensitive)',
        `  --sort KEY          order by ${Object.keys(SORT_KEYS).join(', ')} (default id);`,
        '                      --sort=-KEY for descending',
        '  --limit N           show the first N sessions only (after filter and sort)',
        '  --profiles FILE     the crawler\'s profiles module, to show each session\'s proxy (password hidden) and',
        '                      user agent; without it only the profile\'s index is known',
        '  --json              print a JSON array instead of a table',
        '  --watch             redraw the table every --interval-secs seconds until Ctrl-C',
        '  --interval-secs N   seconds between redraws with --watch (default 2)',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { values, positionals } = parseCommandLine(args, OPTIONS);
        requirePositionals(positionals, []);
        const options = parseOptions(schema, values);
        if (options.watch && options.json) throw new UsageError('--watch draws a table: it cannot be combined with --json');
        if (options['interval-secs'] !== undefined && !options.watch) throw new UsageError('--interval-secs only applies with --watch');
        const selection = parseStoreSelection(values);
        const describe = await profileDescriber(options.profiles);
        const load = async () => {
            const records = await withStore(selection, io, { readOnly: true }, (store) => store.loadAll());
            return selectRows(records.map((record) => toListRow(record, describe(record.profileIndex))), options);
        };
        if (options.watch) return watchList(load, options['interval-secs'] ?? DEFAULT_INTERVAL_SECS, io);
        printList(await load(), options.json === true, io);
        return EXIT_OK;
    },
};

/** The rows `--filter`, `--sort` and `--limit` select, and how many matched in all. */
interface Selected {
    rows: SessionListRow[];
    matched: number;
    filtered: boolean;
}

function selectRows(all: SessionListRow[], options: ListOptions): Selected {
    const needle = options.filter?.toLowerCase();
    const matching = needle === undefined
        ? all
        : all.filter((row) => [row.id, row.profile ?? '', row.status].some((text) => text.toLowerCase().includes(needle)));
    const key = SORT_KEYS[(options.sort?.key ?? 'id') as SortKey];
    const direction = options.sort?.descending ? -1 : 1;
    matching.sort((a, b) => {
        const x = key(a);
        const y = key(b);
        const order = x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
        return order * direction;
    });
    const rows = options.limit === undefined ? matching : matching.slice(0, options.limit);
    return { rows, matched: matching.length, filtered: needle !== undefined };
}

const DEFAULT_INTERVAL_SECS = 2;

/** ANSI: cursor home, clear the screen (only on a terminal). */
const CLEAR_SCREEN = '\u001b[H\u001b[2J';

/**
 * `list --watch`: loads and prints the table every `intervalSecs` until SIGINT or SIGTERM (or `io.signal`), then
 * returns 0. On a terminal each frame replaces the previous one; into a pipe, frames follow each other under a
 * time stamp. A failing load (store briefly unreadable) is shown in the frame and retried at the next tick.
 */
async function watchList(load: () => Promise<Selected>, intervalSecs: number, io: CliIo): Promise<number> {
    const stopped = new AbortController();
    const stop = () => stopped.abort();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    io.signal?.addEventListener('abort', stop);
    if (io.signal?.aborted) stop();
    try {
        while (!stopped.signal.aborted) {
            let body: string;
            try {
                body = renderTable(await load());
            } catch (error) {
                body = `(could not read the store: ${describeError(error)}; retrying)`;
            }
            if (stopped.signal.aborted) break;
            const heading = `crawlee-sessions list --watch · ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC · every ${intervalSecs}s · Ctrl-C to stop`;
            io.stdout(`${io.stdoutIsTTY ? CLEAR_SCREEN : ''}${heading}\n${body}\n`);
            await delay(intervalSecs * 1000, stopped.signal);
        }
    } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        io.signal?.removeEventListener('abort', stop);
    }
    return EXIT_OK;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
        }
    });
}

/** A stored session as a list row (no secrets). */
export function toListRow(record: SessionRecord, profile: string, now = Date.now()): SessionListRow {
    return {
        id: record.id,
        profileIndex: record.profileIndex,
        profile: record.profileIndex === null ? null : profile,
        cookies: liveCookies(fromStoredCookies(record.cookies), now).length,
        status: storedStatusOf(record),
        lastRenewalError: record.lastRenewalError,
        generation: record.generation,
        requests: record.counters.requests,
        successes: record.counters.successes,
        failures: record.counters.failures,
        renewals: record.counters.renewals,
        lastUsedAt: record.lastUsedAt === null ? null : new Date(record.lastUsedAt).toISOString(),
        updatedAt: new Date(record.updatedAt).toISOString(),
    };
}

const COLUMNS: Column<SessionListRow>[] = [
    { title: 'id', cell: (row) => row.id, maxWidth: 40 },
    { title: 'profile', cell: (row) => row.profile ?? '-', maxWidth: 90 },
    { title: 'cookies', cell: (row) => String(row.cookies), alignRight: true },
    { title: 'status', cell: (row) => row.status },
    { title: 'generation', cell: (row) => String(row.generation), alignRight: true },
    { title: 'requests', cell: (row) => String(row.requests), alignRight: true },
    { title: 'failures', cell: (row) => String(row.failures), alignRight: true },
    { title: 'renewals', cell: (row) => String(row.renewals), alignRight: true },
    { title: 'last used', cell: (row) => formatInstant(row.lastUsedAt === null ? null : Date.parse(row.lastUsedAt)) },
];

function printList(selected: Selected, json: boolean, io: CliIo): void {
    if (json) {
        io.stdout(toJsonOutput(selected.rows));
        return;
    }
    io.stdout(`${renderTable(selected)}\n`);
}

function renderTable({ rows, matched, filtered }: Selected): string {
    const lines = [formatTable(COLUMNS, rows)];
    if (matched === 0) lines.push(filtered ? '(no session matches --filter)' : '(no sessions stored)');
    if (matched > rows.length) lines.push(`(${matched - rows.length} more not shown: --limit ${rows.length})`);
    for (const row of rows) {
        if (row.lastRenewalError) lines.push(`${oneLine(row.id)}: renewal failed: ${oneLine(row.lastRenewalError)}`);
    }
    return lines.join('\n');
}
