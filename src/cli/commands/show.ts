import { z } from 'zod';

import type { SessionAuth, SessionRecord } from '../../model/types.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { CliError, EXIT_OK } from '../errors.js';
import { storedStatusOf, type StoredSessionStatus } from '../format/status.js';
import { HIDDEN, describeCookies, describeFlags, fromStoredCookies, type CookieDescription } from '../format/cookies.js';
import { formatInstant, formatTable, oneLine, toJsonOutput } from '../format/table.js';
import type { CliIo } from '../io.js';
import { HELP_OPTION, parseSessionCommandLine, STORE_OPTIONS } from '../options.js';
import { profileDescriber } from '../profiles.js';
import { parseStoreSelection, withStore, type StoreSelection } from '../store.js';

/** One session as `show --json` prints it; secret values are {@link HIDDEN} unless `--reveal`. */
export interface SessionDetails {
    id: string;
    generation: number;
    profileIndex: number | null;
    /** The profile with its proxy password hidden (with `--profiles`), or `#index`, or null. */
    profile: string | null;
    status: StoredSessionStatus;
    lastRenewalError: string | null;
    /** The identity the session presents (user agent and generated headers: not secret), or null. */
    identity: { userAgent: string; headers: Record<string, string> } | null;
    counters: { requests: number; successes: number; failures: number; renewals: number };
    /** ISO instants. */
    lastUsedAt: string | null;
    updatedAt: string;
    cookies: CookieDescription[];
    /** What a login put on the session's requests besides cookies, values hidden unless revealed. */
    auth: SessionAuth | null;
}

const OPTIONS = {
    ...STORE_OPTIONS,
    ...HELP_OPTION,
    json: { type: 'boolean' },
    reveal: { type: 'boolean' },
    profiles: { type: 'string' },
} as const;

const schema = z.looseObject({
    json: z.boolean().optional(),
    reveal: z.boolean().optional(),
    profiles: z.string().min(1).optional(),
});

/** `crawlee-sessions show <id>`: one session with its cookies (values hidden unless `--reveal`). */
export const showCommand: CliCommand = {
    name: 'show',
    summary: 'show one session: identity, counters, cookies (values hidden unless --reveal)',
    help: [
        'crawlee-sessions show <id> [--reveal] [--profiles FILE] [--json] [store options]',
        '',
        'Shows a session: generation, profile, status, user agent, counters, and its cookies (name, domain, path,',
        `expiry, flags) and login values (auth headers, query values). Secret values are shown as ${HIDDEN}.`,
        '',
        '  --reveal          show cookie and login values',
        '  --profiles FILE   the crawler\'s profiles module, to show the proxy (password hidden) and user agent',
        '  --json            print JSON instead of text',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { id, options, values } = parseSessionCommandLine(args, OPTIONS, schema);
        const selection = parseStoreSelection(values);
        const describe = await profileDescriber(options.profiles);
        const record = await readSession(selection, io, id);
        const details = toSessionDetails(record, describe(record.profileIndex), options.reveal === true);
        io.stdout(options.json ? toJsonOutput(details) : formatDetails(details));
        return EXIT_OK;
    },
};

/** Reads one session from the store the options select; a missing session is a {@link CliError}. */
export async function readSession(selection: StoreSelection, io: CliIo, id: string): Promise<SessionRecord> {
    const { record, count } = await withStore(selection, io, { readOnly: true }, async (store) => {
        const found = await store.read(id);
        return { record: found, count: found ? 0 : (await store.loadAll()).length };
    });
    if (!record) throw missingSession(id, count);
    return record;
}

/** The error for a session id that is not in the store. */
export function missingSession(id: string, storedCount: number): CliError {
    return new CliError(
        `There is no session ${JSON.stringify(id)} in the store (it holds ${storedCount} session${storedCount === 1 ? '' : 's'}: see crawlee-sessions list)`,
    );
}

/** A stored session as `show` presents it. */
export function toSessionDetails(record: SessionRecord, profile: string, reveal: boolean, now = Date.now()): SessionDetails {
    return {
        id: record.id,
        generation: record.generation,
        profileIndex: record.profileIndex,
        profile: record.profileIndex === null ? null : profile,
        status: storedStatusOf(record),
        lastRenewalError: record.lastRenewalError,
        identity: record.identity,
        counters: { ...record.counters },
        lastUsedAt: record.lastUsedAt === null ? null : new Date(record.lastUsedAt).toISOString(),
        updatedAt: new Date(record.updatedAt).toISOString(),
        cookies: describeCookies(fromStoredCookies(record.cookies), reveal, now),
        auth: record.auth && (reveal ? record.auth : hideAuth(record.auth)),
    };
}

/** Login values with every value hidden (names and sources kept). */
function hideAuth(auth: SessionAuth): SessionAuth {
    const hide = (values: Record<string, string>) => Object.fromEntries(Object.keys(values).map((name) => [name, HIDDEN]));
    return {
        headers: hide(auth.headers ?? {}),
        query: hide(auth.query ?? {}),
        values: Object.fromEntries(Object.entries(auth.values ?? {}).map(([name, { source }]) => [name, { value: HIDDEN, source }])),
    };
}

function formatDetails(details: SessionDetails): string {
    const lines = [
        `session      ${oneLine(details.id)}`,
        `generation   ${details.generation}`,
        `profile      ${details.profile ?? '-'}`,
        `status       ${details.status}${details.lastRenewalError ? `: renewal failed: ${oneLine(details.lastRenewalError)}` : ''}`,
        `user agent   ${details.identity ? oneLine(details.identity.userAgent) : '- (generated on first use)'}`,
    ];
    for (const [name, value] of Object.entries(details.identity?.headers ?? {})) {
        if (name !== 'user-agent') lines.push(`             ${oneLine(name)}: ${oneLine(value)}`);
    }
    const { counters } = details;
    lines.push(
        `requests     ${counters.requests} (${counters.successes} succeeded, ${counters.failures} failed) · renewals ${counters.renewals}`,
        `last used    ${formatInstant(details.lastUsedAt === null ? null : Date.parse(details.lastUsedAt))}`,
        `updated      ${formatInstant(Date.parse(details.updatedAt))}`,
        '',
    );
    if (details.cookies.length === 0) {
        lines.push('cookies: none');
    } else {
        lines.push(`cookies (${details.cookies.length}):`);
        const table = formatTable(
            [
                { title: 'name', cell: (cookie: CookieDescription) => cookie.name, maxWidth: 40 },
                { title: 'domain', cell: (cookie) => cookie.domain },
                { title: 'path', cell: (cookie) => cookie.path, maxWidth: 40 },
                { title: 'expires', cell: (cookie) => (cookie.expired ? `${cookie.expires} (expired)` : cookie.expires) },
                { title: 'flags', cell: describeFlags },
                { title: 'value', cell: (cookie) => cookie.value },
            ],
            details.cookies,
        );
        lines.push(...table.split('\n').map((line) => `  ${line}`));
    }
    const auth = details.auth;
    if (auth) {
        const headers = Object.entries(auth.headers);
        const query = Object.entries(auth.query);
        const extracted = Object.entries(auth.values);
        if (headers.length > 0) lines.push('', 'auth headers:', ...headers.map(([name, value]) => `  ${oneLine(name)}: ${oneLine(value)}`));
        if (query.length > 0) lines.push('', 'auth query:', ...query.map(([name, value]) => `  ${oneLine(name)}=${oneLine(value)}`));
        if (extracted.length > 0) {
            lines.push('', 'extracted values:', ...extracted.map(([name, { value, source }]) => `  ${oneLine(name)} = ${oneLine(value)} (from ${oneLine(source)})`));
        }
    }
    return `${lines.join('\n')}\n`;
}
