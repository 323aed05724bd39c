import { parseArgs } from 'node:util';

import { describeCause } from '../shared/describe.js';
import { openStore, type StoreChoice } from '../stores/open-store.js';
import type { SessionStore } from '../model/types.js';
import { ConfigValidationError } from '../shared/validation.js';
import { loadMaintainerConfig, type MaintainerConfig } from './config.js';
import { Maintainer } from './maintainer.js';
import { MAINTAINER_STATUS_COLLECTION, formatStatusTable, type MaintainerStatusRow } from './status.js';

/** Where the maintainer commands write and what stops them. */
export interface MaintainerCliIo {
    /** Receives normal output. Default: `process.stdout`. */
    stdout?: (text: string) => void;
    /** Receives errors. Default: `process.stderr`. */
    stderr?: (text: string) => void;
    /** Stops `maintain` cleanly when aborted, like SIGINT. Default none. */
    signal?: AbortSignal;
    /**
     * Turns a failure into the text written to `stderr` (without the final newline). Default: the error's message
     * (`Error: …` for errors other than configuration problems).
     */
    formatError?: (error: unknown) => string;
    /**
     * Stop `maintain` cleanly on SIGINT and SIGTERM (a second signal while stopping exits at once with code 130).
     * Default true.
     */
    handleSignals?: boolean;
}

/** Options of {@link runMaintainCommand}. */
export interface MaintainCommandOptions {
    /** Path of the config module. Default `sessions.config.ts` (in the working directory). */
    config?: string;
    /**
     * Run every recipe once, print the status table (recipe, session, state: refreshed, valid or failed, …), then
     * stop, instead of running the schedules until stopped. Default false.
     */
    once?: boolean;
    /** Use this store instead of the config's `store` (the CLI's `--mysql`, `--storage-dir`). Default: the config's. */
    store?: StoreChoice;
    /** With `store`: its secret instead of the config's `secret`. Default: the config's. */
    secret?: string;
}

/** Options of {@link runStatusCommand}. */
export interface StatusCommandOptions {
    /** Path of the config module (for its store). Default `sessions.config.ts`. */
    config?: string;
    /** Print the rows as JSON instead of a table. Default false. */
    json?: boolean;
    /** Read this store instead of the config's `store`. Default: the config's. */
    store?: StoreChoice;
    /** With `store`: its secret instead of the config's `secret`. Default: the config's. */
    secret?: string;
}

/** The config file the commands read when none is given. */
export const DEFAULT_MAINTAINER_CONFIG_PATH = 'sessions.config.ts';

/** Exit code of a command refused because of its configuration or arguments. */
const EXIT_USAGE = 2;

/**
 * `crawlee-sessions maintain`: loads the config, runs the maintainer until SIGINT/SIGTERM (or `io.signal`), then
 * stops it cleanly (waits for the checks and logins under way, records the status, closes the store). With
 * `once`, runs every recipe once and returns. Resolves with the process exit code: 0, 1 (failure) or 2 (bad
 * configuration); with `once`, 1 when some session could not be refreshed.
 */
export async function runMaintainCommand(options: MaintainCommandOptions = {}, io: MaintainerCliIo = {}): Promise<number> {
    const { stdout, stderr } = outputsOf(io);
    const describeFailure = failureDescriber(io);
    let maintainer: Maintainer;
    try {
        const config = await loadMaintainerConfig(options.config ?? DEFAULT_MAINTAINER_CONFIG_PATH);
        maintainer = await Maintainer.open(withStoreOverride(config, options));
    } catch (error) {
        stderr(`${describeFailure(error)}\n`);
        return error instanceof ConfigValidationError ? EXIT_USAGE : 1;
    }

    if (options.once) {
        try {
            await maintainer.runNow();
            const rows = maintainer.status();
            stdout(`${formatStatusTable(rows)}\n`);
            return rows.some((row) => row.state === 'failed' || row.state === 'check-error') ? 1 : 0;
        } catch (error) {
            stderr(`${describeFailure(error)}\n`);
            return 1;
        } finally {
            await maintainer.stop().catch((error: unknown) => stderr(`${describeFailure(new Error(`Stopping the maintainer failed: ${describeCause(error)}`))}\n`));
        }
    }

    try {
        maintainer.start();
    } catch (error) {
        stderr(`${describeFailure(error)}\n`);
        await maintainer.stop().catch(() => undefined);
        return 1;
    }
    await new Promise<void>((resolve) => {
        const keepAlive = setInterval(() => undefined, 2 ** 30); // the schedule's timers do not hold the process
        let stopping = false;
        const stop = () => {
            if (stopping) {
                if (io.handleSignals !== false) process.exit(130);
                return;
            }
            stopping = true;
            void maintainer
                .stop()
                .catch((error: unknown) => stderr(`${describeFailure(new Error(`Stopping the maintainer failed: ${describeCause(error)}`))}\n`))
                .finally(() => {
                    clearInterval(keepAlive);
                    process.off('SIGINT', stop);
                    process.off('SIGTERM', stop);
                    io.signal?.removeEventListener('abort', stop);
                    resolve();
                });
        };
        if (io.handleSignals !== false) {
            process.on('SIGINT', stop);
            process.on('SIGTERM', stop);
        }
        if (io.signal?.aborted) stop();
        else io.signal?.addEventListener('abort', stop);
    });
    return 0;
}

/**
 * `crawlee-sessions status`: prints the status table the maintainer keeps in the config's store (recipe, session,
 * last check, state, last refresh, next run, failures; then the last error of each failing session). No secrets.
 * Resolves with the exit code: 0, 1 or 2 (bad configuration).
 */
export async function runStatusCommand(options: StatusCommandOptions = {}, io: MaintainerCliIo = {}): Promise<number> {
    const { stdout, stderr } = outputsOf(io);
    const describeFailure = failureDescriber(io);
    let store: SessionStore | undefined;
    let ownsStore = false;
    try {
        const config = withStoreOverride(await loadMaintainerConfig(options.config ?? DEFAULT_MAINTAINER_CONFIG_PATH), options);
        ownsStore = !(typeof config.store === 'object' && config.store !== null && typeof (config.store as SessionStore).write === 'function');
        store = await openStore(config.store, config.secret, { readOnly: true }); // a snapshot: works while the maintainer runs
        const rows = (await store.listEntries<MaintainerStatusRow>(MAINTAINER_STATUS_COLLECTION)).map((entry) => entry.value);
        stdout(options.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStatusTable(rows)}\n`);
        return 0;
    } catch (error) {
        stderr(`${describeFailure(error)}\n`);
        return error instanceof ConfigValidationError ? EXIT_USAGE : 1;
    } finally {
        if (store && ownsStore) await store.close().catch(() => undefined);
    }
}

/** Usage of the maintainer commands. */
export const MAINTAINER_USAGE = [
    'crawlee-sessions maintain [--config sessions.config.ts] [--once]',
    '    Keeps the sessions of every recipe in the config fresh in its store, until SIGINT/SIGTERM.',
    '    --once  run every recipe once, then exit (1 if some session could not be refreshed)',
    'crawlee-sessions status [--config sessions.config.ts] [--json]',
    '    Prints the maintainer status table kept in the config\'s store.',
].join('\n');

/**
 * Dispatches `maintain …` and `status …` (argv without the program name: `['maintain', '--config', 'x.ts']`).
 * Resolves with the exit code; prints usage and returns 2 for unknown commands or options.
 */
export async function runMaintainerCli(argv: readonly string[], io: MaintainerCliIo = {}): Promise<number> {
    const { stderr } = outputsOf(io);
    const [command, ...rest] = argv;
    try {
        if (command === 'maintain') {
            const { values } = parseArgs({
                args: [...rest],
                options: { config: { type: 'string', short: 'c' }, once: { type: 'boolean' } },
                strict: true,
                allowPositionals: false,
            });
            return await runMaintainCommand({ config: values.config, once: values.once }, io);
        }
        if (command === 'status') {
            const { values } = parseArgs({
                args: [...rest],
                options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
                strict: true,
                allowPositionals: false,
            });
            return await runStatusCommand({ config: values.config, json: values.json }, io);
        }
        stderr(`Unknown command ${JSON.stringify(command ?? '')}.\n${MAINTAINER_USAGE}\n`);
        return EXIT_USAGE;
    } catch (error) {
        if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
            stderr(`${(error as Error).message}\n${MAINTAINER_USAGE}\n`);
            return EXIT_USAGE;
        }
        throw error;
    }
}

function outputsOf(io: MaintainerCliIo): { stdout: (text: string) => void; stderr: (text: string) => void } {
    return {
        stdout: io.stdout ?? ((text) => void process.stdout.write(text)),
        stderr: io.stderr ?? ((text) => void process.stderr.write(text)),
    };
}

function failureDescriber(io: MaintainerCliIo): (error: unknown) => string {
    return io.formatError ?? ((error) => (error instanceof ConfigValidationError ? error.message : `Error: ${describeCause(error)}`));
}

/** The config with the store (and its secret) the command line chose instead of the config's own. */
function withStoreOverride(config: MaintainerConfig, options: { store?: StoreChoice; secret?: string }): MaintainerConfig {
    if (options.store === undefined) return config;
    return { ...config, store: options.store, secret: options.secret ?? config.secret };
}
