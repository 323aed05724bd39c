import { z } from 'zod';

import { MAINTAINER_STATUS_COLLECTION, type MaintainerStatusRow } from '../../maintainer/status.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { renderHtmlReport } from '../format/html-report.js';
import { HELP_OPTION, STORE_OPTIONS, parseCommandLine, parseOptions, requirePositionals } from '../options.js';
import { profileDescriber } from '../profiles.js';
import { parseStoreSelection, withStore, type StoreSelection } from '../store.js';
import { writePrivateFile } from '../write-private-file.js';
import { toListRow } from './list.js';

const OPTIONS = { ...STORE_OPTIONS, ...HELP_OPTION, html: { type: 'string' }, profiles: { type: 'string' } } as const;

const schema = z.looseObject({ html: z.string().min(1, 'must name a file').optional(), profiles: z.string().min(1).optional() });

/** `crawlee-sessions report --html FILE`: one self-contained page about the store's sessions. */
export const reportCommand: CliCommand = {
    name: 'report',
    summary: 'write an HTML report: sessions, renewal timeline, failures by profile (no secrets)',
    help: [
        'crawlee-sessions report --html FILE [--profiles FILE] [store options]',
        '',
        'Writes one self-contained HTML page (no script, a strict Content-Security-Policy, readable by you only)',
        'with the sessions table, a renewal timeline, failures by profile and the maintainer\'s status. No cookie',
        'values, login values or proxy passwords. Reads a snapshot: works while a crawl uses the store.',
        '',
        '  --html FILE       where to write the page (replaced whole; never written through a symbolic link)',
        '  --profiles FILE   the crawler\'s profiles module, to name each profile by its proxy (password hidden)',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { values, positionals } = parseCommandLine(args, OPTIONS);
        requirePositionals(positionals, []);
        const options = parseOptions(schema, values);
        if (!options.html) throw new UsageError('--html FILE is required: where to write the report');
        const selection = parseStoreSelection(values);
        const describe = await profileDescriber(options.profiles);
        const { records, maintainer } = await withStore(selection, io, { readOnly: true }, async (store) => ({
            records: await store.loadAll(),
            maintainer: (await store.listEntries<MaintainerStatusRow>(MAINTAINER_STATUS_COLLECTION)).map((entry) => entry.value),
        }));
        const sessions = records
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            .map((record) => toListRow(record, describe(record.profileIndex)));
        const html = renderHtmlReport({ source: describeSource(selection, io.env), generatedAt: Date.now(), sessions, maintainer });
        await writePrivateFile(options.html, html);
        io.stdout(`Wrote the report on ${sessions.length} session${sessions.length === 1 ? '' : 's'} to ${options.html}.\n`);
        return EXIT_OK;
    },
};

/** The store in words, without credentials. */
function describeSource(selection: StoreSelection, env: NodeJS.ProcessEnv): string {
    const mysql = selection.mysql ?? (selection.storageDir || selection.storeName ? undefined : env.CRAWLEE_SESSIONS_MYSQL_URL || undefined);
    if (mysql) {
        const url = new URL(mysql);
        return `MySQL ${url.host}${url.pathname} (tables ${selection.tablePrefix ?? 'crawlee_sessions'}_*)`;
    }
    const dir = selection.storageDir ?? (env.CRAWLEE_STORAGE_DIR || './storage');
    return `embedded store "${selection.storeName ?? 'crawlee-sessions'}" in ${dir}`;
}
