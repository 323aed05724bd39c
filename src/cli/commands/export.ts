import { writeFile } from 'node:fs/promises';

import { z } from 'zod';

import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { CliError, EXIT_OK, UsageError } from '../errors.js';
import { cookiesForUrl, fromStoredCookies, liveCookies } from '../format/cookies.js';
import {
    COOKIE_FILE_FORMATS,
    toCookieHeaderValue,
    toNetscapeCookieFile,
    toPlaywrightStorageState,
    type CookieFileFormat,
} from '../format/export.js';
import { toJsonOutput } from '../format/table.js';
import { HELP_OPTION, parseSessionCommandLine, STORE_OPTIONS } from '../options.js';
import { parseStoreSelection } from '../store.js';
import { readSession } from './show.js';

const OPTIONS = {
    ...STORE_OPTIONS,
    ...HELP_OPTION,
    format: { type: 'string', short: 'f' },
    url: { type: 'string' },
    out: { type: 'string', short: 'o' },
    reveal: { type: 'boolean' },
} as const;

/** An http(s) URL. */
export const httpUrlSchema = z
    .string()
    .refine((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), 'must be an http:// or https:// URL');

const schema = z.looseObject({
    format: z.enum(COOKIE_FILE_FORMATS, { error: 'must be one of playwright, netscape, header' }).optional(),
    url: httpUrlSchema.optional(),
    out: z.string().min(1).optional(),
    reveal: z.boolean().optional(),
});

/**
 * `crawlee-sessions export <id> --format playwright|netscape|header`: a session's cookies, values included, for
 * a browser, curl/wget or a single request. Written to `--out FILE` (created with mode 0600) or stdout; refuses to
 * print values on a terminal unless `--reveal` is given, so that they do not end up on screen by accident.
 */
export const exportCommand: CliCommand = {
    name: 'export',
    summary: 'export a session\'s cookies: Playwright storage state, Netscape cookie file, Cookie header',
    help: [
        'crawlee-sessions export <id> --format playwright|netscape|header [--url URL] [--out FILE] [--reveal] [store options]',
        '',
        'Writes a session\'s unexpired cookies WITH their values:',
        '  playwright   a Playwright storage state (browser.newContext({ storageState: FILE }))',
        '  netscape     a Netscape cookie file (curl -b FILE, wget --load-cookies FILE)',
        '  header       the Cookie header a request to --url would send (curl -H "$(…)")',
        '',
        '  --format, -f FORMAT   one of the above (required)',
        '  --url URL             only the cookies a request to URL would get (required for header)',
        '  --out, -o FILE        write to FILE (created with mode 0600) instead of stdout',
        '  --reveal              allow printing the values on a terminal (without it, stdout must be a file or pipe)',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { id, options, values } = parseSessionCommandLine(args, OPTIONS, schema);
        if (!options.format) throw new UsageError('--format is required: playwright, netscape or header');
        if (options.format === 'header' && !options.url) {
            throw new UsageError('--url is required for --format header: a Cookie header depends on the URL it is sent to');
        }
        if (!options.out && io.stdoutIsTTY && !options.reveal) {
            throw new UsageError('export prints cookie values: write them to a file (--out FILE, or redirect/pipe stdout), or add --reveal to print them on this terminal');
        }
        const selection = parseStoreSelection(values);
        const record = await readSession(selection, io, id);
        const all = liveCookies(fromStoredCookies(record.cookies));
        const cookies = options.url ? cookiesForUrl(all, options.url) : all;
        if (cookies.length === 0) {
            const where = options.url ? ` that a request to ${options.url} would send` : '';
            throw new CliError(`Session ${JSON.stringify(id)} has no cookie${where} (it has ${all.length} unexpired cookie${all.length === 1 ? '' : 's'})`);
        }
        const output = render(options.format, cookies, id, options.url);
        if (options.out) {
            await writeFile(options.out, output, { mode: 0o600 });
            io.stdout(`Exported ${cookies.length} cookie${cookies.length === 1 ? '' : 's'} of session ${JSON.stringify(id)} to ${options.out} (${options.format}).\n`);
        } else {
            io.stdout(output);
        }
        return EXIT_OK;
    },
};

function render(format: CookieFileFormat, cookies: ReturnType<typeof liveCookies>, id: string, url: string | undefined): string {
    switch (format) {
        case 'playwright':
            return toJsonOutput(toPlaywrightStorageState(cookies));
        case 'netscape':
            return toNetscapeCookieFile(cookies, `Session ${JSON.stringify(id)} exported by crawlee-sessions on ${new Date().toISOString()}`);
        case 'header':
            return `Cookie: ${toCookieHeaderValue(cookies, url!)}\n`;
    }
}
