import { readFile } from 'node:fs/promises';

import { z } from 'zod';

import { zeroCounters } from '../../model/merge.js';
import type { SessionDelta, StoredCookie } from '../../model/types.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { CliError, EXIT_OK, UsageError } from '../errors.js';
import { isExpired } from '../format/cookies.js';
import { COOKIE_FILE_FORMATS, type CookieFileFormat } from '../format/export.js';
import { parseCookieFile } from '../format/import.js';
import { toJsonOutput } from '../format/table.js';
import { HELP_OPTION, parseCommandLine, parseSessionCommandLine, requirePositionals, STORE_OPTIONS } from '../options.js';
import { parseStoreSelection, withStore, type StoreSelection } from '../store.js';
import type { CliIo } from '../io.js';
import { parsePoolState } from '../format/session-pool-state.js';
import { USER_DATA_COLLECTION } from '../../core/user-data.js';
import { httpUrlSchema } from './export.js';

/** What `import --json` prints. */
export interface ImportResult {
    id: string;
    format: CookieFileFormat;
    /** Cookies added to (or replaced in) the session. */
    imported: number;
    /** Cookies of the file that had expired, left out. */
    skippedExpired: number;
    /** The session did not exist and was created. */
    created: boolean;
    generation: number;
    notes: string[];
}

const OPTIONS = {
    ...STORE_OPTIONS,
    ...HELP_OPTION,
    format: { type: 'string', short: 'f' },
    url: { type: 'string' },
    json: { type: 'boolean' },
    'session-pool-state': { type: 'string' },
} as const;

const schema = z.looseObject({
    format: z.enum(COOKIE_FILE_FORMATS, { error: 'must be one of playwright, netscape, header' }).optional(),
    url: httpUrlSchema.optional(),
    json: z.boolean().optional(),
});

/**
 * `crawlee-sessions import <id> <file>`: adds the cookies of a Playwright storage state, a Netscape cookie file or a
 * Cookie header to a session (creating it if absent). Cookies with the same name, domain and path are replaced;
 * the session's other cookies are kept.
 */
export const importCommand: CliCommand = {
    name: 'import',
    summary: 'add cookies from a Playwright storage state, Netscape cookie file or Cookie header to a session',
    help: [
        'crawlee-sessions import <id> <file> [--format playwright|netscape|header] [--url URL] [--json] [store options]',
        'crawlee-sessions import --session-pool-state FILE [--json] [store options]',
        '',
        'Adds the cookies in <file> (- reads stdin) to the session <id>, creating it if absent. Cookies with the',
        'same name, domain and path are replaced; other cookies are kept; expired ones are skipped. The format is',
        'detected (JSON: Playwright storage state; tab-separated lines: Netscape cookie file; else a Cookie header).',
        '',
        '  --format, -f FORMAT   the file\'s format, if detection guesses wrong',
        '  --url URL             the site a Cookie header belongs to (required for that format): its cookies',
        '                        become host-only cookies of the URL\'s host with path /',
        '  --json                print what was done as JSON',
        '  --session-pool-state FILE   import every usable session of Crawlee\'s SessionPool state (the',
        '                        SDK_SESSION_POOL_STATE.json in storage/key_value_stores/default): its cookies and',
        '                        userData, under the same session ids; retired and expired sessions are skipped',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { values: given, positionals } = parseCommandLine(args, OPTIONS);
        if (given['session-pool-state'] !== undefined) {
            requirePositionals(positionals, []);
            if (given.format !== undefined || given.url !== undefined) throw new UsageError('--format and --url do not apply to --session-pool-state');
            return importPoolState(String(given['session-pool-state']), given.json === true, parseStoreSelection(given), io);
        }
        const {
            id,
            rest: [file],
            options,
            values,
        } = parseSessionCommandLine(args, OPTIONS, schema, ['file']);
        const selection = parseStoreSelection(values);
        const source = file === '-' ? 'stdin' : file!;
        const text = await readInput(file!, io.readStdin);
        const parsed = parseCookieFile(text, { format: options.format, url: options.url, source });
        const now = Date.now();
        const live = parsed.cookies.filter((cookie) => !isExpired(cookie, now));
        if (live.length === 0) throw new CliError(`${source} holds no unexpired cookie: nothing to import`);

        const result = await withStore(selection, io, { mustExist: false }, async (store): Promise<ImportResult> => {
            const record = await store.read(id);
            const generation = record?.generation ?? 0;
            const delta: SessionDelta = {
                id,
                generation,
                reset: false,
                assignment: record
                    ? { profileIndex: record.profileIndex, identity: record.identity, auth: record.auth }
                    : { profileIndex: null, identity: null, auth: null },
                upserts: live.map((cookie) => cookie.toJSON() as StoredCookie),
                removals: [],
                counters: zeroCounters(),
                lastUsedAt: null,
            };
            const [written] = await store.write([delta]);
            if (written!.generation !== generation) {
                throw new CliError(
                    `Session ${JSON.stringify(id)} was cleared by another process while importing (now generation ${written!.generation}): ` +
                        'nothing was imported; run the import again.',
                );
            }
            return {
                id,
                format: parsed.format,
                imported: live.length,
                skippedExpired: parsed.cookies.length - live.length,
                created: !record,
                generation,
                notes: parsed.notes,
            };
        });
        if (options.json) {
            io.stdout(toJsonOutput(result));
        } else {
            const skipped = result.skippedExpired > 0 ? ` (${result.skippedExpired} expired cookie${result.skippedExpired === 1 ? '' : 's'} skipped)` : '';
            const lines = [
                `Imported ${result.imported} cookie${result.imported === 1 ? '' : 's'} (${result.format}) into ${result.created ? 'the new ' : ''}session ` +
                    `${JSON.stringify(id)}${skipped}.`,
                ...result.notes.map((note) => `Note: ${note}.`),
            ];
            io.stdout(`${lines.join('\n')}\n`);
        }
        return EXIT_OK;
    },
};

/** What `import --session-pool-state --json` prints. */
export interface PoolStateImportResult {
    file: string;
    sessions: number;
    created: number;
    cookies: number;
    withUserData: number;
    skippedUnusable: number;
    skippedExpiredCookies: number;
}

async function importPoolState(file: string, json: boolean, selection: StoreSelection, io: CliIo): Promise<number> {
    if (file === '') throw new UsageError('--session-pool-state needs a file');
    const text = await readInput(file, io.readStdin);
    const state = parsePoolState(text, file === '-' ? 'stdin' : file);
    if (state.sessions.length === 0) throw new CliError(`${file} holds no usable session: nothing to import`);
    const result = await withStore(selection, io, { mustExist: false }, async (store): Promise<PoolStateImportResult> => {
        const records = new Map((await Promise.all(state.sessions.map((session) => store.read(session.id)))).flatMap((record) => (record ? [[record.id, record] as const] : [])));
        const deltas: SessionDelta[] = state.sessions.map((session) => {
            const record = records.get(session.id);
            return {
                id: session.id,
                generation: record?.generation ?? 0,
                reset: false,
                assignment: record
                    ? { profileIndex: record.profileIndex, identity: record.identity, auth: record.auth }
                    : { profileIndex: null, identity: null, auth: null },
                upserts: session.cookies.map((cookie) => cookie.toJSON() as StoredCookie),
                removals: [],
                counters: zeroCounters(),
                lastUsedAt: null,
            };
        });
        const written = await store.write(deltas);
        const cleared = written.filter((outcome, index) => outcome.generation !== deltas[index]!.generation).map((outcome) => outcome.id);
        if (cleared.length > 0) {
            throw new CliError(`Sessions ${cleared.map((id) => JSON.stringify(id)).join(', ')} were cleared by another process while importing: run the import again.`);
        }
        for (const session of state.sessions) {
            if (session.userData) await store.putEntry(USER_DATA_COLLECTION, session.id, session.userData, { secret: true });
        }
        return {
            file,
            sessions: state.sessions.length,
            created: state.sessions.filter((session) => !records.has(session.id)).length,
            cookies: state.sessions.reduce((sum, session) => sum + session.cookies.length, 0),
            withUserData: state.sessions.filter((session) => session.userData).length,
            skippedUnusable: state.skippedUnusable,
            skippedExpiredCookies: state.skippedCookies,
        };
    });
    if (json) {
        io.stdout(toJsonOutput(result));
        return EXIT_OK;
    }
    const skipped = [
        result.skippedUnusable > 0 ? `${result.skippedUnusable} retired or expired session${result.skippedUnusable === 1 ? '' : 's'}` : '',
        result.skippedExpiredCookies > 0 ? `${result.skippedExpiredCookies} expired cookie${result.skippedExpiredCookies === 1 ? '' : 's'}` : '',
    ].filter(Boolean);
    io.stdout(
        `Imported ${result.sessions} session${result.sessions === 1 ? '' : 's'} (${result.created} new) with ${result.cookies} cookie${result.cookies === 1 ? '' : 's'}` +
            ` and ${result.withUserData} with user data from ${file}${skipped.length ? `; skipped ${skipped.join(' and ')}` : ''}.\n`,
    );
    return EXIT_OK;
}

async function readInput(file: string, readStdin: () => Promise<string>): Promise<string> {
    if (file === '-') return readStdin();
    try {
        return await readFile(file, 'utf8');
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new CliError(code === 'ENOENT' ? `Cannot read ${file}: no such file` : `Cannot read ${file}: ${(error as Error).message}`);
    }
}
