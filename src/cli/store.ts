import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';

import type { StoreChoice } from '../stores/open-store.js';
import { SECRET_ENV } from '../stores/secrets.js';
import type { SessionStore } from '../model/types.js';
import { CliError, UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { parseOptions, type OptionValues } from './options.js';

/** The embedded store's name when `--store-name` is not given (the one `Sessions.open()` uses). */
export const DEFAULT_STORE_NAME = 'crawlee-sessions';

/** Which store a command opens, from the store options (see `STORE_OPTIONS`). */
export interface StoreSelection {
    /** `--storage-dir`: the Crawlee storage directory of the embedded store. Default: `CRAWLEE_STORAGE_DIR`, else `./storage`. */
    storageDir?: string;
    /** `--store-name`: the embedded store's name. Default `crawlee-sessions`. */
    storeName?: string;
    /** `--mysql`: a `mysql://user:pass@host:port/db` URL. Default: `CRAWLEE_SESSIONS_MYSQL_URL` unless `--storage-dir` is given. */
    mysql?: string;
    /** `--table-prefix`: the MySQL store's table prefix. Default `crawlee_sessions`. */
    tablePrefix?: string;
    /** `--secret-env`: the environment variable holding the secret. Default `CRAWLEE_SESSIONS_SECRET`. */
    secretEnv?: string;
}

const selectionSchema = z
    .object({
        'storage-dir': z.string().min(1).optional(),
        'store-name': z
            .string()
            .regex(/^[a-zA-Z0-9-]{1,63}$/, 'must be 1–63 letters, digits or dashes (a Crawlee store name)')
            .optional(),
        mysql: z
            .string()
            .refine((url) => /^mysql:\/\/[^/]+/.test(url) && URL.canParse(url), 'must be a URL like mysql://user:pass@host:3306/db')
            .optional(),
        'table-prefix': z.string().min(1).optional(),
        'secret-env': z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable, e.g. MY_SESSIONS_SECRET')
            .optional(),
    })
    .transform(
        (values): StoreSelection => ({
            storageDir: values['storage-dir'],
            storeName: values['store-name'],
            mysql: values.mysql,
            tablePrefix: values['table-prefix'],
            secretEnv: values['secret-env'],
        }),
    );

/** Reads and checks the store options of a command line. */
export function parseStoreSelection(values: OptionValues): StoreSelection {
    const selection = parseOptions(selectionSchema, values);
    if (selection.mysql && (selection.storageDir || selection.storeName)) {
        throw new UsageError('--mysql cannot be combined with --storage-dir or --store-name (those select the embedded store)');
    }
    return selection;
}

/** Options of {@link openCliStore}. */
export interface OpenCliStoreOptions {
    /**
     * Refuse to create an embedded store that does not exist yet (read-only commands): a missing store usually means
     * the CLI looks in the wrong directory. Default true.
     */
    mustExist?: boolean;
    /**
     * The command only reads (`list`, `show`, `export`): an embedded store is opened as a consistent snapshot without
     * taking its lock, so it works while a crawl uses the store. Writing commands leave it false and are refused while
     * another process holds the store.
     * @default false
     */
    readOnly?: boolean;
    /** Open an embedded store with damaged files: keep what is readable, move the rest aside (`repair`). @default false */
    ignoreDamaged?: boolean;
}

/**
 * Opens the store a command line selects: MySQL with `--mysql` (or `CRAWLEE_SESSIONS_MYSQL_URL` when no
 * `--storage-dir` is given), else the embedded store in `--storage-dir` / `CRAWLEE_STORAGE_DIR` / `./storage`.
 * The secret comes from the variable `--secret-env` names, else `CRAWLEE_SESSIONS_SECRET`.
 */
export async function openCliStore(selection: StoreSelection, io: CliIo, options: OpenCliStoreOptions = {}): Promise<SessionStore> {
    const { choice, secret } = await resolveCliStore(selection, io, options);
    const { openStore } = await import('../stores/open-store.js');
    return openStore(choice, secret, { readOnly: options.readOnly === true });
}

/** Whether any store option was given (else the defaults apply: `CRAWLEE_SESSIONS_MYSQL_URL` or `./storage`). */
export function selectsStore(selection: StoreSelection): boolean {
    return Object.values(selection).some((value) => value !== undefined);
}

/**
 * The store a command line selects and its secret, as `openStore` takes them (see {@link openCliStore}); checks
 * that an embedded store exists unless `mustExist` is false. Quiets Crawlee's INFO logging, which would mix with
 * the command's output.
 */
export async function resolveCliStore(
    selection: StoreSelection,
    io: CliIo,
    options: Pick<OpenCliStoreOptions, 'mustExist' | 'ignoreDamaged'> = {},
): Promise<{ choice: StoreChoice; secret: string | undefined }> {
    const secret = readSecret(selection, io);
    // Crawlee takes a while to load: only commands that get this far pay for it (not --help or usage errors).
    const [{ log }, { MYSQL_URL_ENV }] = await Promise.all([import('@crawlee/core'), import('../stores/open-store.js')]);
    // Crawlee logs at INFO on stdout, which would mix with tables and JSON.
    if (!io.env.CRAWLEE_LOG_LEVEL) log.setLevel(log.LEVELS.WARNING);
    const mysqlUrl = selection.mysql ?? (selection.storageDir || selection.storeName ? undefined : io.env[MYSQL_URL_ENV] || undefined);
    if (mysqlUrl) {
        return { choice: { mysql: { url: mysqlUrl, ...(selection.tablePrefix ? { tablePrefix: selection.tablePrefix } : {}) } }, secret };
    }
    if (selection.tablePrefix) throw new UsageError('--table-prefix only applies to MySQL: give --mysql URL too');
    const name = selection.storeName ?? DEFAULT_STORE_NAME;
    const dir = selection.storageDir ?? (io.env.CRAWLEE_STORAGE_DIR || './storage');
    // Crawlee's local storage keeps a key-value store in <dir>/key_value_stores/<name>.
    const folder = join(dir, 'key_value_stores', name);
    if ((options.mustExist ?? true) && !existsSync(folder)) {
        throw new CliError(
            `There is no sessions store in ${folder}: nothing was stored there yet. Point the CLI at the crawler's ` +
                'storage with --storage-dir DIR (or CRAWLEE_STORAGE_DIR), or at MySQL with --mysql URL.',
        );
    }
    // The store's own files, never a Crawlee storage: nothing of the crawler's storage is purged or locked.
    return { choice: { embedded: { name, storageDir: dir, ...(options.ignoreDamaged ? { ignoreDamaged: true } : {}) } }, secret };
}

function readSecret(selection: StoreSelection, io: CliIo): string | undefined {
    if (selection.secretEnv === undefined) return io.env[SECRET_ENV] || undefined;
    const secret = io.env[selection.secretEnv];
    if (!secret) throw new UsageError(`--secret-env: the environment variable ${selection.secretEnv} is not set`);
    return secret;
}

/** Opens the store, runs `task` with it and closes it, whatever happens. */
export async function withStore<T>(
    selection: StoreSelection,
    io: CliIo,
    options: OpenCliStoreOptions,
    task: (store: SessionStore) => Promise<T>,
): Promise<T> {
    const store = await openCliStore(selection, io, options);
    try {
        return await task(store);
    } finally {
        await store.close().catch(() => undefined);
    }
}
