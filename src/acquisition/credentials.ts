import { open } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { inspect } from 'node:util';

import { describeCause } from '../shared/describe.js';
import { LiteralMask } from '../shared/literal-mask.js';
import { LoginError } from './errors.js';

/** A credential computed when the login runs, e.g. read from a secret manager. It must return a non-empty string. */
export type CredentialFunction = () => string | Promise<string>;

/**
 * Where a credential comes from, read each time the login runs (nothing is cached between logins):
 *
 * - a literal string given in code;
 * - `{ env: 'APP_PASSWORD' }`: an environment variable;
 * - `{ file: '/run/secrets/app-password' }`: a file (relative paths against the working directory), trimmed of one
 *   final line break: the form Docker and Kubernetes secrets take;
 * - a function returning the value (or a promise of it), e.g. from a secret manager.
 *
 * Values never appear in logs, errors or stored state.
 */
export type CredentialInput = string | { env: string } | { file: string } | CredentialFunction;

/** Replaces a secret wherever it is shown. */
const HIDDEN = '***';

/** The largest credential file read: a secret, not a document (and never `/dev/zero`). */
export const MAX_CREDENTIAL_FILE_BYTES = 64 * 1024;

/** Environment variable names a credential may name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A credential kept out of sight: `JSON.stringify`, `util.inspect` (hence `console.log` and Crawlee's `log`) and
 * string conversion all show `***`. Only {@link SecretValue.reveal} returns the value.
 */
export class SecretValue {
    readonly #value: string;

    constructor(value: string) {
        this.#value = value;
    }

    /** The secret itself: hand it only to the site it belongs to. */
    reveal(): string {
        return this.#value;
    }

    toJSON(): string {
        return HIDDEN;
    }

    toString(): string {
        return HIDDEN;
    }

    [inspect.custom](): string {
        return `SecretValue(${HIDDEN})`;
    }
}

/** A validated credential: a hidden literal, an environment variable's name, a file's path, or a function. */
export type CredentialSource = { value: SecretValue } | { env: string } | { file: string } | { compute: CredentialFunction };

/**
 * Why a value is not a {@link CredentialInput}, or undefined when it is one. The message never quotes the value.
 */
export function credentialInputProblem(value: unknown): string | undefined {
    if (typeof value === 'string') return value.length > 0 ? undefined : 'must not be empty';
    if (typeof value === 'function' || value instanceof SecretValue || isSecretValueLike(value)) return undefined;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const keys = Object.keys(value);
        const entry = value as { env?: unknown; file?: unknown };
        if (keys.length === 1 && keys[0] === 'env') {
            return typeof entry.env === 'string' && ENV_NAME.test(entry.env) ? undefined : 'env must name an environment variable (letters, digits and _)';
        }
        if (keys.length === 1 && keys[0] === 'file') {
            return typeof entry.file === 'string' && entry.file.length > 0 ? undefined : 'file must be a non-empty path';
        }
    }
    return 'must be a non-empty string, { env: "VARIABLE" }, { file: "path" } or a function returning the value (its value is not shown)';
}

/** Turns user input into a {@link CredentialSource}; literals are wrapped at once so they never travel bare. */
export function toCredentialSource(input: CredentialInput | SecretValue): CredentialSource {
    if (input instanceof SecretValue || isSecretValueLike(input)) return { value: input as SecretValue };
    if (typeof input === 'string') return { value: new SecretValue(input) };
    if (typeof input === 'function') return { compute: input };
    return 'env' in input ? { env: input.env } : { file: input.file };
}

/** A credential's place, for messages: `credential "password" of account "bob"`. */
export interface CredentialPlace {
    /** The recipe, named in the {@link LoginError}. */
    recipe: string;
    /** The credential's name, e.g. `password` or `totp.secret`. */
    field: string;
    /** Whose it is, e.g. `account "bob"` or `the recipe's credentials`. */
    owner: string;
}

/**
 * Reads a credential now: a literal as is, an environment variable, a file (one final line break trimmed) or a
 * function's result. A missing, empty or unreadable source fails with a `credentials` {@link LoginError} naming the
 * credential, its owner and the variable or file — never a value or a file's content.
 */
export async function resolveCredential(source: CredentialSource, place: CredentialPlace): Promise<string> {
    const fail = (problem: string) => new LoginError('credentials', place.recipe, `credential "${place.field}" of ${place.owner} ${problem}`);
    if ('value' in source) return source.value.reveal();
    if ('env' in source) {
        const value = process.env[source.env];
        if (!value) throw fail(`comes from the environment variable ${source.env}, which is not set or empty`);
        return value;
    }
    if ('file' in source) {
        const value = await readCredentialFile(source.file).catch((error: unknown) => {
            throw fail(`comes from the file ${source.file}, which cannot be read (${fileProblem(error)})`);
        });
        if (!value) throw fail(`comes from the file ${source.file}, which is empty`);
        return value;
    }
    let value: unknown;
    try {
        value = await source.compute();
    } catch (error) {
        throw fail(`could not be computed: its function threw (${describeCause(error)})`);
    }
    if (typeof value !== 'string' || value.length === 0) {
        const got = typeof value === 'string' ? 'an empty string' : value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
        throw fail(`could not be computed: its function returned ${got}, not a non-empty string`);
    }
    return value;
}

/** A secret file's content without one final line break (`echo secret > file` adds one). */
async function readCredentialFile(path: string): Promise<string> {
    const handle = await open(resolvePath(path), 'r');
    try {
        const info = await handle.stat();
        if (!info.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
        if (info.size > MAX_CREDENTIAL_FILE_BYTES) throw Object.assign(new Error('too large'), { code: 'ETOOLARGE' });
        const text = (await handle.readFile({ encoding: 'utf8' })).slice(0, MAX_CREDENTIAL_FILE_BYTES);
        return text.replace(/\r?\n$/, '');
    } finally {
        await handle.close();
    }
}

/** `ENOENT: no such file`, `EACCES: permission denied`, … — the reason only, never the content. */
function fileProblem(error: unknown): string {
    const code = (error as { code?: unknown }).code;
    switch (code) {
        case 'ENOENT':
            return 'no such file';
        case 'EACCES':
        case 'EPERM':
            return 'permission denied';
        case 'EISDIR':
        case 'ENOTFILE':
            return 'not a regular file';
        case 'ETOOLARGE':
            return `larger than ${MAX_CREDENTIAL_FILE_BYTES / 1024} KiB: not a secret file`;
        default:
            return typeof code === 'string' ? code : 'read error';
    }
}

/** A SecretValue made by another copy of this package (a config module may import its own). */
function isSecretValueLike(value: unknown): boolean {
    return (
        value !== null &&
        typeof value === 'object' &&
        typeof (value as { reveal?: unknown }).reveal === 'function' &&
        (value as { toJSON?: () => unknown }).toJSON?.() === HIDDEN
    );
}

/** Secrets shorter than this are not scrubbed from text: masking every "a" would garble messages. */
const MIN_SCRUBBED_LENGTH = 4;

/**
 * Removes known secrets (credentials, extracted tokens) from text before it reaches a log line or an error
 * message: each secret, its URL-encoded form and its form-encoded form become `***`. Overlapping secrets are masked
 * together (see {@link LiteralMask}); scrubbing takes time linear in the length of the text plus the secrets.
 */
export class Redactor {
    private readonly secrets = new Set<string>();
    /** Built on the first scrub after a change. */
    private matcher: LiteralMask | undefined;

    /** Adds secrets to scrub. */
    add(...values: ReadonlyArray<string | undefined>): this {
        for (const value of values) {
            if (!value || value.length < MIN_SCRUBBED_LENGTH) continue;
            for (const form of [
                value,
                encodeURIComponent(value),
                new URLSearchParams({ v: value }).toString().slice(2),
                JSON.stringify(value).slice(1, -1),
            ]) {
                if (form.length >= MIN_SCRUBBED_LENGTH && !this.secrets.has(form)) {
                    this.secrets.add(form);
                    this.matcher = undefined;
                }
            }
        }
        return this;
    }

    /** The text with every known secret replaced by `***`. */
    scrub(text: string): string {
        if (this.secrets.size === 0) return text;
        this.matcher ??= new LiteralMask(this.secrets);
        return this.matcher.mask(text, HIDDEN);
    }
}
