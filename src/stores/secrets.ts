import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

import { StoreSecretError } from '../model/types.js';

/** The environment variable holding the secret that encrypts cookie values, tokens and credentials at rest. */
export const SECRET_ENV = 'CRAWLEE_SESSIONS_SECRET';

const PREFIX = 'enc:v1:';
/** Plain text sealed into a store's metadata, to tell a wrong key from corrupt data before touching anything. */
const KEY_CHECK_PLAINTEXT = 'crawlee-sessions key check';

/**
 * AES-256-GCM encryption of values at rest. The key is derived from the user's secret with scrypt and a random
 * per-store salt (kept in the store's metadata), so the same secret gives different keys in different stores.
 * Sealed values look like `enc:v1:<iv>:<tag>:<ciphertext>` (base64url), so encrypted and clear values can be told
 * apart and a store can move from clear to encrypted one record at a time.
 */
export class SecretBox {
    private constructor(private readonly key: Buffer) {}

    /** Derives the key from `secret` and `salt` (base64url). */
    static derive(secret: string, salt: string): SecretBox {
        if (secret.length < 8) {
            throw new StoreSecretError(`The secret (${SECRET_ENV} or the "secret" option) must be at least 8 characters long.`);
        }
        return new SecretBox(scryptSync(secret, Buffer.from(salt, 'base64url'), 32));
    }

    /** A new random salt for a store that has none yet. */
    static newSalt(): string {
        return randomBytes(16).toString('base64url');
    }

    /** Whether a stored string is a sealed value. */
    static isSealed(value: unknown): value is string {
        return typeof value === 'string' && value.startsWith(PREFIX);
    }

    /** Encrypts a string. */
    seal(plaintext: string): string {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', this.key, iv);
        const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
        return `${PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${data.toString('base64url')}`;
    }

    /** Decrypts a sealed string; throws {@link StoreSecretError} when the key does not fit. */
    open(sealed: string): string {
        const [iv, tag, data] = sealed.slice(PREFIX.length).split(':');
        if (!iv || !tag || data === undefined) throw new StoreSecretError('An encrypted value in the store is malformed.');
        try {
            const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
            decipher.setAuthTag(Buffer.from(tag, 'base64url'));
            return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
        } catch {
            throw wrongSecret();
        }
    }

    /** A key check value for the store's metadata. */
    keyCheck(): string {
        return this.seal(KEY_CHECK_PLAINTEXT);
    }

    /** Throws {@link StoreSecretError} unless `check` was made with this key. */
    verify(check: string): void {
        if (this.open(check) !== KEY_CHECK_PLAINTEXT) throw wrongSecret();
    }
}

function wrongSecret(): StoreSecretError {
    return new StoreSecretError(
        `The store was encrypted with a different secret: check ${SECRET_ENV} (or the "secret" option). ` +
            'Nothing was read or changed.',
    );
}

/** What a store keeps in its metadata about encryption. */
export interface EncryptionMeta {
    salt?: string;
    keyCheck?: string;
}

/**
 * Decides how a store encrypts, given its metadata and the configured secret (which may be undefined):
 * returns the box to use (undefined: values are stored in clear) and the metadata to write back if it changed.
 * Throws {@link StoreSecretError} when the store is encrypted and the secret is missing or wrong.
 */
export function openSecretBox(
    meta: EncryptionMeta,
    secret: string | undefined,
    where: string,
): { box: SecretBox | undefined; update?: EncryptionMeta } {
    if (meta.keyCheck && meta.salt) {
        if (!secret) {
            throw new StoreSecretError(
                `The session store at ${where} is encrypted: set ${SECRET_ENV} (or the "secret" option) to the secret it was created with.`,
            );
        }
        const box = SecretBox.derive(secret, meta.salt);
        box.verify(meta.keyCheck);
        return { box };
    }
    if (!secret) return { box: undefined };
    const salt = SecretBox.newSalt();
    const box = SecretBox.derive(secret, salt);
    return { box, update: { salt, keyCheck: box.keyCheck() } };
}

/** Seals a JSON value when a box is given, else returns it as is. */
export function sealJson(box: SecretBox | undefined, value: unknown): unknown {
    return box ? box.seal(JSON.stringify(value)) : value;
}

/** Opens a value written by {@link sealJson}; clear values pass through. Throws when sealed and no box. */
export function openJson<T>(box: SecretBox | undefined, value: unknown, where: string): T {
    if (!SecretBox.isSealed(value)) return value as T;
    if (!box) {
        throw new StoreSecretError(
            `The session store at ${where} holds encrypted values: set ${SECRET_ENV} (or the "secret" option).`,
        );
    }
    return JSON.parse(box.open(value)) as T;
}
