import { readFile } from 'node:fs/promises';

import { z } from 'zod';

import { zeroCounters } from '../../model/merge.js';
import type { SessionDelta, StoredCookie } from '../../model/types.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { CliError, EXIT_OK } from '../errors.js';
import { isExpired } from '../format/cookies.js';
import { COOKIE_FILE_FORMATS, type CookieFileFormat } from '../format/export.js';
import { parseCookieFile } from '../format/import.js';
import { toJsonOutput } from '../format/table.js';
import { HELP_OPTION, parseSessionCommandLine, STORE_OPTIONS } from '../options.js';
import { parseStoreSelection, withStore } from '../store.js';
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
        '',
        'Adds the cookies in <file> (- reads stdin) to the session <id>, creating it if absent. Cookies with the',
        'same name, domain and path are replaced; other cookies are kept; expired ones are skipped. The format is',
        'detected (JSON: Playwright storage state; tab-separated lines: Netscape cookie file; else a Cookie header).',
        '',
        '  --format, -f FORMAT   the file\'s format, if detection guesses wrong',
        '  --url URL             the site a Cookie header belongs to (required for that format): its cookies',
        '                        become host-only cookies of the URL\'s host with path /',
        '  --json                print what was done as JSON',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
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

async function readInput(file: string, readStdin: () => Promise<string>): Promise<string> {
    if (file === '-') return readStdin();
    try {
        return await readFile(file, 'utf8');
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new CliError(code === 'ENOENT' ? `Cannot read ${file}: no such file` : `Cannot read ${file}: ${(error as Error).message}`);
    }
}
