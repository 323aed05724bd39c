import { z } from 'zod';

import type { EmbeddedSessionStore, RecoveryReport } from '../../stores/embedded-store.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { CliError, EXIT_OK, UsageError } from '../errors.js';
import { oneLine, toJsonOutput } from '../format/table.js';
import { HELP_OPTION, STORE_OPTIONS, parseCommandLine, parseOptions, requirePositionals } from '../options.js';
import { parseStoreSelection, withStore } from '../store.js';

/** What `repair --json` prints. */
export interface RepairResult {
    /** Where the store is. */
    store: string;
    /** Whether anything was damaged. */
    repaired: boolean;
    /** Sessions and entries kept (every one that was readable). */
    sessions: number;
    entries: number;
    /** Damaged files, why, and where each was moved (absent for a file that was missing). */
    movedAside: RecoveryReport['setAside'];
    /** Records skipped inside damaged files (line and why; never values). */
    skipped: RecoveryReport['skipped'];
}

const OPTIONS = { ...STORE_OPTIONS, ...HELP_OPTION, json: { type: 'boolean' } } as const;

const schema = z.looseObject({ json: z.boolean().optional() });

/**
 * `crawlee-sessions repair`: opens an embedded store whose files are damaged, keeps every readable session and entry,
 * moves the damaged files aside (`<file>.damaged-<timestamp>`) and writes a consistent set of files. Like every
 * writing command it needs the store's lock: it is refused while a crawl uses the store.
 */
export const repairCommand: CliCommand = {
    name: 'repair',
    summary: 'recover an embedded store with damaged files: keep what is readable, move the rest aside',
    help: [
        'crawlee-sessions repair [--json] [store options]',
        '',
        'Checks every file of the embedded store. When some are damaged (truncated, overwritten, missing, or not laid',
        'out as meta.json says), keeps every session and entry that is still readable, moves the damaged files aside',
        '(renamed <file>.damaged-<timestamp>, for a closer look), and writes a consistent set of files. Prints what it',
        'kept and what it moved. An intact store is left as it is. Stop the crawler using the store first.',
        '',
        '  --json   print what was done as JSON',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { values, positionals } = parseCommandLine(args, OPTIONS);
        requirePositionals(positionals, []);
        const options = parseOptions(schema, values);
        const selection = parseStoreSelection(values);
        if (selection.mysql) throw new UsageError('repair applies to the embedded store (files in --storage-dir); MySQL keeps its own consistency');
        const result = await withStore(selection, io, { ignoreDamaged: true }, async (store): Promise<RepairResult> => {
            if (store.kind !== 'embedded') {
                throw new CliError(`repair applies to the embedded store, not to the ${store.description}: give --storage-dir DIR`);
            }
            const embedded = store as EmbeddedSessionStore;
            const { recovery } = embedded;
            if (recovery) {
                return { store: store.description, repaired: true, sessions: recovery.sessions, entries: recovery.entries, movedAside: recovery.setAside, skipped: recovery.skipped };
            }
            return { store: store.description, repaired: false, ...embedded.counts(), movedAside: [], skipped: [] };
        });
        if (options.json) {
            io.stdout(toJsonOutput(result));
            return EXIT_OK;
        }
        if (!result.repaired) {
            io.stdout(
                `Nothing to repair: every file of the ${result.store} is intact (${result.sessions} session${result.sessions === 1 ? '' : 's'}, ` +
                    `${result.entries} entr${result.entries === 1 ? 'y' : 'ies'}).\n`,
            );
            return EXIT_OK;
        }
        const lines = [
            `Repaired the ${result.store}: kept ${result.sessions} session${result.sessions === 1 ? '' : 's'} and ${result.entries} ` +
                `entr${result.entries === 1 ? 'y' : 'ies'} (every readable one).`,
        ];
        for (const { file, reason, movedTo } of result.movedAside) {
            lines.push(movedTo ? `Moved aside: ${file} → ${movedTo} (${oneLine(reason)})` : `Damaged: ${file} (${oneLine(reason)})`);
        }
        for (const { file, reason } of result.skipped) lines.push(`Skipped in ${file}: ${oneLine(reason)}`);
        io.stdout(`${lines.join('\n')}\n`);
        return EXIT_OK;
    },
};
