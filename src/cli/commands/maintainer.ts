import { existsSync } from 'node:fs';

import { z } from 'zod';

import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { EXIT_OK, UsageError, describeError } from '../errors.js';
import { toJsonOutput } from '../format/table.js';
import type { CliIo } from '../io.js';
import { HELP_OPTION, STORE_OPTIONS, parseCommandLine, parseOptions, requirePositionals } from '../options.js';
import { parseStoreSelection, resolveCliStore, selectsStore, withStore } from '../store.js';

/** The config file `maintain` and `status` read when no `--config` is given. */
const DEFAULT_CONFIG = 'sessions.config.ts';

const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;

const configSchema = z.string().min(1, 'must not be empty').optional();

/**
 * The maintainer's own output, in the CLI's style: every failure as one line `crawlee-sessions <command>: …`, and a
 * bad configuration exits with 2 like any bad command line.
 */
function maintainerIo(name: string, io: CliIo) {
    return {
        stdout: io.stdout,
        stderr: io.stderr,
        formatError: (error: unknown) => `crawlee-sessions ${name}: ${describeError(error)}`,
        ...(io.signal ? { signal: io.signal } : {}),
    };
}

/** `crawlee-sessions maintain --config FILE`: the maintainer daemon (its module is loaded only when it runs). */
export const maintainCommand: CliCommand = {
    name: 'maintain',
    summary: 'keep the sessions of every login recipe fresh in the store (daemon)',
    help: [
        'crawlee-sessions maintain [--config sessions.config.ts] [--once] [store options]',
        '',
        'Runs the maintainer of the config module (its recipes, schedules and store) until SIGINT/SIGTERM.',
        'Store options, when given, replace the config\'s store (and --secret-env its secret).',
        '',
        '  --config, -c FILE   the config module (default: sessions.config.ts); .ts needs tsx installed',
        '  --once              run every recipe once, print the status table (recipe, session, state: refreshed,',
        '                      valid or failed, …), then exit (1 if some session could not be refreshed)',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const options = { ...STORE_OPTIONS, ...HELP_OPTION, ...CONFIG_OPTION, once: { type: 'boolean' } } as const;
        const { values, positionals } = parseCommandLine(args, options);
        requirePositionals(positionals, []);
        const config = parseOptions(z.looseObject({ config: configSchema }), values).config;
        const selection = parseStoreSelection(values);
        const override = selectsStore(selection) ? await resolveCliStore(selection, io, { mustExist: false }) : undefined;
        const { runMaintainCommand } = await import('../../maintainer/cli.js');
        return runMaintainCommand(
            { config, once: values.once === true, ...(override ? { store: override.choice, secret: override.secret } : {}) },
            maintainerIo('maintain', io),
        );
    },
};

/**
 * `crawlee-sessions status`: the maintainer's status table, from the config's store or from the store the store
 * options select (`status --mysql URL` works on any machine sharing the store, without the config).
 */
export const statusCommand: CliCommand = {
    name: 'status',
    summary: 'show the maintainer\'s status table (no secrets)',
    help: [
        'crawlee-sessions status [--config sessions.config.ts | store options] [--json]',
        '',
        'Prints the status the maintainer keeps in its store: recipe, session, last check, state, last refresh,',
        'next run, failures. Reads a snapshot: works while the maintainer or a crawl uses the store.',
        'With store options (--mysql URL, --storage-dir DIR, …) the config is not needed; without them the store',
        'is the one of --config, or of ./sessions.config.ts if it exists, else the default store.',
        '',
        '  --config, -c FILE   the config module, for its store (default: sessions.config.ts if it exists)',
        '  --json              print JSON instead of a table',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const options = { ...STORE_OPTIONS, ...HELP_OPTION, ...CONFIG_OPTION, json: { type: 'boolean' } } as const;
        const { values, positionals } = parseCommandLine(args, options);
        requirePositionals(positionals, []);
        const config = parseOptions(z.looseObject({ config: configSchema }), values).config;
        const selection = parseStoreSelection(values);
        const json = values.json === true;
        if (!selectsStore(selection) && (config !== undefined || existsSync(DEFAULT_CONFIG))) {
            const { runStatusCommand } = await import('../../maintainer/cli.js');
            return runStatusCommand({ config, json }, maintainerIo('status', io));
        }
        if (config !== undefined && selectsStore(selection)) {
            throw new UsageError('give either --config (its store) or store options, not both');
        }
        const { MAINTAINER_STATUS_COLLECTION, formatStatusTable } = await import('../../maintainer/status.js');
        type Row = import('../../maintainer/status.js').MaintainerStatusRow;
        const rows = await withStore(selection, io, { readOnly: true }, async (store) =>
            (await store.listEntries<Row>(MAINTAINER_STATUS_COLLECTION)).map((entry) => entry.value),
        );
        io.stdout(json ? toJsonOutput(rows) : `${formatStatusTable(rows)}\n`);
        return EXIT_OK;
    },
};
