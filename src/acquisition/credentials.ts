import { inspect } from 'node:util';

import { LiteralMask } from '../shared/literal-mask.js';
import { LoginError } from './errors.js';

/**
 * Where a credential comes from: a literal value given in code, or an environment variable read each time the
 * login runs (`{ env: 'APP_PASSWORD' }`), so the secret need not be written into a config file.
 */
export type CredentialInput = string | { env: string };

/** Replaces a secret wherever it is shown. */
const HIDDEN = '***';

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

/** A validated credential: a hidden literal, or an environment variable's name. */
export type CredentialSource = { value: SecretValue } | { env: string };

/** Turns user input into a {@link CredentialSource}; literals are wrapped at once so they never travel bare. */
export function toCredentialSource(input: CredentialInput | SecretValue): CredentialSource {
    if (input instanceof SecretValue) return { value: input };
    if (typeof input === 'string') return { value: new SecretValue(input) };
    return { env: input.env };
}

/**
 * Resolves every credential to its value. Environment variables are read now; a missing or empty one fails with
 * an error naming the credential and the variable (never a value).
 */
export function resolveCredentials(recipeName: string, sources: Readonly<Record<string, CredentialSource>>): Record<string, string> {
    const resolved: Record<string, string> = {};
    for (const [name, source] of Object.entries(sources)) {
        if ('value' in source) {
            resolved[name] = source.value.reveal();
            continue;
        }
        const value = process.env[source.env];
        if (!value) {
            throw new LoginError(
                'credentials',
                recipeName,
                `credential "${name}" comes from the environment variable ${source.env}, which is not set`,
            );
        }
        resolved[name] = value;
    }
    return resolved;
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
