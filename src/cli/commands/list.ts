import { z } from 'zod';

import type { SessionRecord } from '../../model/types.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { EXIT_OK } from '../errors.js';
import { fromStoredCookies, liveCookies } from '../format/cookies.js';
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
    status: 'ok' | 'failed';
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
} as const;

const schema = z.looseObject({ json: z.boolean().optional(), profiles: z.string().min(1).optional() });

/** `crawlee-sessions list`: every stored session, one line each; no secrets. */
export const listCommand: CliCommand = {
    name: 'list',
    summary: 'list the stored sessions (no secrets)',
    help: [
        'crawlee-sessions list [--profiles FILE] [--json] [store options]',
        '',
        'Lists every stored session: id, profile, cookies (count), status, generation, requests, failures,',
        'renewals, last used. Never shows cookie values, login values or proxy passwords.',
        '',
        '  --profiles FILE   the crawler\'s profiles module, to show each session\'s proxy (password hidden) and',
        '                    user agent; without it only the profile\'s index is known',
        '  --json            print a JSON array instead of a table',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { values, positionals } = parseCommandLine(args, OPTIONS);
        requirePositionals(positionals, []);
        const options = parseOptions(schema, values);
        const selection = parseStoreSelection(values);
        const describe = await profileDescriber(options.profiles);
        const records = await withStore(selection, io, { readOnly: true }, (store) => store.loadAll());
        records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const rows = records.map((record) => toListRow(record, describe(record.profileIndex)));
        printList(rows, options.json === true, io);
        return EXIT_OK;
    },
};

/** A stored session as a list row (no secrets). */
export function toListRow(record: SessionRecord, profile: string, now = Date.now()): SessionListRow {
    return {
        id: record.id,
        profileIndex: record.profileIndex,
        profile: record.profileIndex === null ? null : profile,
        cookies: liveCookies(fromStoredCookies(record.cookies), now).length,
        status: record.lastRenewalError ? 'failed' : 'ok',
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

function printList(rows: readonly SessionListRow[], json: boolean, io: CliIo): void {
    if (json) {
        io.stdout(toJsonOutput(rows));
        return;
    }
    const lines = [formatTable(COLUMNS, rows)];
    if (rows.length === 0) lines.push('(no sessions stored)');
    for (const row of rows) {
        if (row.lastRenewalError) lines.push(`${oneLine(row.id)}: renewal failed: ${oneLine(row.lastRenewalError)}`);
    }
    io.stdout(`${lines.join('\n')}\n`);
}
