import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';

import { StoreSecretError } from '../model/types.js';

/** The environment variable holding the secret that encrypts cookie values, tokens and credentials at rest. */
export const SECRET_ENV = 'CRAWLEE_SESSIONS_SECRET';

/** The shortest secret a store accepts when it starts encrypting. */
export const MIN_SECRET_LENGTH = 12;
/** The shortest secret of stores encrypted before {@link MIN_SECRET_LENGTH} was raised (they stay reachable). */
const LEGACY_MIN_SECRET_LENGTH = 8;

/** Sealed values bound to where they belong (additional authenticated data). */
const PREFIX = 'enc:v2:';
/** Sealed values of older versions: not bound to their record. Accepted only while a store migrates. */
const LEGACY_PREFIX = 'enc:v1:';
/** Plain text sealed into a store's metadata, to tell a wrong key from corrupt data before touching anything. */
const KEY_CHECK_PLAINTEXT = 'crawlee-sessions key check';

/** scrypt cost parameters, stored with the salt so that they can be raised for new stores without locking out old ones. */
export interface KdfParams {
    name: 'scrypt';
    /** CPU/memory cost, a power of two. */
    N: number;
    r: number;
    p: number;
}

/** OWASP's current minimum for scrypt (Password Storage Cheat Sheet): N = 2^17, r = 8, p = 1. New stores use it. */
export const DEFAULT_KDF: Readonly<KdfParams> = Object.freeze({ name: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
/** What stores encrypted before the parameters were stored used: Node's scrypt defaults. */
const LEGACY_KDF: Readonly<KdfParams> = Object.freeze({ name: 'scrypt', N: 2 ** 14, r: 8, p: 1 });

/** What a store keeps in its metadata about encryption. */
export interface EncryptionMeta {
    /** Random per-store salt (base64url). */
    salt?: string;
    /** The key derivation's parameters; absent in stores of older versions (they used {@link LEGACY_KDF}). */
    kdf?: KdfParams;
    /** {@link KEY_CHECK_PLAINTEXT} sealed with the store's key (bound to the salt, the parameters and `legacy`). */
    keyCheck?: string;
    /**
     * `'accepted'`: the store may still hold values of older versions (in clear, or sealed without binding), written
     * before it was encrypted or bound; they are read and sealed bound when rewritten. Absent: every value must be
     * sealed and bound, anything else is refused.
     */
    legacy?: 'accepted';
}

/** Where a sealed value belongs: its binding (AES-GCM additional authenticated data) and how messages name it. */
export type SealedField =
    | { kind: 'session'; id: string; field: 'cookies' | 'auth' }
    | { kind: 'entry'; collection: string; key: string };

/** How a message names a sealed value's place, e.g. `the cookies of session "alice"` (ids and keys are not secret). */
export function describeField(field: SealedField): string {
    return field.kind === 'session'
        ? `the ${field.field === 'cookies' ? 'cookies' : 'login values'} of session ${JSON.stringify(field.id)}`
        : `entry ${JSON.stringify(field.key)} of collection ${JSON.stringify(field.collection)}`;
}

type Binding = SealedField | { kind: 'meta'; field: 'key-check'; kdf: KdfParams; legacy: boolean };

/**
 * AES-256-GCM encryption of values at rest. The key is derived from the user's secret with scrypt and a random
 * per-store salt (kept in the store's metadata with scrypt's parameters), so the same secret gives different keys in
 * different stores. Every sealed value is bound to the store's salt, its record kind, id or key and field through
 * GCM's additional authenticated data: a value moved to another record, or to another store, does not open.
 * Sealed values look like `enc:v2:<iv>:<tag>:<ciphertext>` (base64url).
 */
export class SecretBox {
    private constructor(
        private readonly key: Buffer,
        private readonly salt: string,
        /** Whether values of older versions (clear, or sealed unbound) are accepted: see {@link EncryptionMeta.legacy}. */
        readonly acceptsLegacy: boolean,
    ) {}

    /**
     * Derives the key from `secret`, `salt` (base64url) and the scrypt parameters (asynchronously: scrypt at OWASP's
     * parameters takes a fraction of a second, which must not stall a crawl sharing the process).
     */
    static async derive(
        secret: string,
        salt: string,
        kdf: KdfParams,
        options: { acceptsLegacy?: boolean; minLength?: number } = {},
    ): Promise<SecretBox> {
        const minLength = options.minLength ?? MIN_SECRET_LENGTH;
        if (secret.length < minLength) {
            throw new StoreSecretError(`The secret (${SECRET_ENV} or the "secret" option) must be at least ${minLength} characters long.`);
        }
        const scryptOptions: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r };
        const key = await new Promise<Buffer>((resolve, reject) =>
            scrypt(secret, Buffer.from(salt, 'base64url'), 32, scryptOptions, (error, derived) => (error ? reject(error) : resolve(derived))),
        );
        return new SecretBox(key, salt, options.acceptsLegacy ?? false);
    }

    /** A new random salt for a store that has none yet. */
    static newSalt(): string {
        return randomBytes(16).toString('base64url');
    }

    /** Whether a stored value is a sealed string (of this version or an older one). */
    static isSealed(value: unknown): value is string {
        return typeof value === 'string' && (value.startsWith(PREFIX) || value.startsWith(LEGACY_PREFIX));
    }

    /** The same key, no longer accepting values of older versions (once a store has rewritten all of them). */
    strict(): SecretBox {
        return new SecretBox(this.key, this.salt, false);
    }

    /** Encrypts a string bound to `field`. */
    seal(plaintext: string, field: SealedField): string {
        return this.sealBound(plaintext, field);
    }

    /**
     * Decrypts a value sealed for `field`. Throws {@link StoreSecretError} naming the field when it was sealed for
     * another place (moved or copied from another record or store), is damaged, or is an unbound value of an older
     * version in a store that no longer accepts them. `where` names the store.
     */
    open(sealed: string, field: SealedField, where: string): string {
        if (sealed.startsWith(LEGACY_PREFIX)) {
            if (!this.acceptsLegacy) {
                throw new StoreSecretError(
                    `${capitalize(describeField(field))} in ${where} is sealed the way older versions did (not bound to its record), ` +
                        'but every value of this store is bound: it was planted or restored from an old copy. Refused; nothing was changed.',
                );
            }
            return this.openUnbound(sealed, () => damaged(field, where));
        }
        return this.openBound(sealed, field, () => damaged(field, where));
    }

    /** The key check value for metadata with these parameters. */
    keyCheck(kdf: KdfParams, legacy: boolean): string {
        return this.sealBound(KEY_CHECK_PLAINTEXT, { kind: 'meta', field: 'key-check', kdf, legacy });
    }

    /** Throws {@link StoreSecretError} unless `check` was made with this key (and these parameters). */
    verify(check: string, kdf: KdfParams, legacy: boolean): void {
        const plaintext = check.startsWith(LEGACY_PREFIX)
            ? this.openUnbound(check, wrongSecret)
            : this.openBound(check, { kind: 'meta', field: 'key-check', kdf, legacy }, wrongSecret);
        if (plaintext !== KEY_CHECK_PLAINTEXT) throw wrongSecret();
    }

    private additionalData(binding: Binding): Buffer {
        // A JSON array: unambiguous whatever the ids contain.
        const parts =
            binding.kind === 'session'
                ? ['session', binding.id, binding.field]
                : binding.kind === 'entry'
                  ? ['entry', binding.collection, binding.key]
                  : ['meta', binding.field, binding.kdf.name, binding.kdf.N, binding.kdf.r, binding.kdf.p, binding.legacy];
        return Buffer.from(JSON.stringify(['crawlee-sessions', 2, this.salt, ...parts]), 'utf8');
    }

    private sealBound(plaintext: string, binding: Binding): string {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', this.key, iv);
        cipher.setAAD(this.additionalData(binding));
        const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
        return `${PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${data.toString('base64url')}`;
    }

    private openBound(sealed: string, binding: Binding, fail: () => StoreSecretError): string {
        return this.decrypt(sealed.slice(PREFIX.length), fail, this.additionalData(binding));
    }

    private openUnbound(sealed: string, fail: () => StoreSecretError): string {
        return this.decrypt(sealed.slice(LEGACY_PREFIX.length), fail);
    }

    private decrypt(body: string, fail: () => StoreSecretError, aad?: Buffer): string {
        const [iv, tag, data, extra] = body.split(':');
        if (!iv || !tag || data === undefined || extra !== undefined) throw fail();
        try {
            const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
            decipher.setAuthTag(Buffer.from(tag, 'base64url'));
            if (aad) decipher.setAAD(aad);
            return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
        } catch {
            throw fail();
        }
    }
}

function capitalize(text: string): string {
    return text.charAt(0).toUpperCase() + text.slice(1);
}

function wrongSecret(): StoreSecretError {
    return new StoreSecretError(
        `The store was encrypted with a different secret: check ${SECRET_ENV} (or the "secret" option). ` +
            'Nothing was read or changed.',
    );
}

function damaged(field: SealedField, where: string): StoreSecretError {
    // The key was verified when the store was opened: a value that does not open was moved here or damaged.
    return new StoreSecretError(
        `${capitalize(describeField(field))} in ${where} does not open with the store's key: it was sealed for another record ` +
            'or store (moved or copied there), or it is damaged. Refused; nothing was changed.',
    );
}

/** Checks stored scrypt parameters before using them: a damaged or hostile meta record must not exhaust memory. */
function checkKdf(value: unknown, where: string): KdfParams {
    const kdf = value as Partial<KdfParams> | undefined;
    const ok =
        typeof kdf === 'object' &&
        kdf !== null &&
        kdf.name === 'scrypt' &&
        Number.isInteger(kdf.N) &&
        Number.isInteger(kdf.r) &&
        Number.isInteger(kdf.p) &&
        kdf.N! >= 2 ** 14 &&
        kdf.N! <= 2 ** 22 &&
        (kdf.N! & (kdf.N! - 1)) === 0 &&
        kdf.r! >= 1 &&
        kdf.r! <= 32 &&
        kdf.p! >= 1 &&
        kdf.p! <= 16 &&
        128 * kdf.N! * kdf.r! <= 2 ** 30;
    if (!ok) {
        throw new StoreSecretError(
            `The encryption parameters in the metadata of ${where} are damaged (kdf must be scrypt with N a power of two from 2^14 to 2^22, ` +
                'r 1–32, p 1–16, at most 1 GiB of memory). Nothing was read or changed.',
        );
    }
    return { name: 'scrypt', N: kdf.N!, r: kdf.r!, p: kdf.p! };
}

/** Options of {@link openSecretBox}. */
export interface OpenSecretBoxOptions {
    /**
     * The store already holds values while it starts encrypting now: they were written in clear and are accepted
     * (`legacy: 'accepted'`) until rewritten. A store that rewrites every value at once passes false.
     * @default false
     */
    holdsClearValues?: boolean;
}

/**
 * Decides how a store encrypts, given its metadata and the configured secret (which may be undefined):
 * returns the box to use (undefined: values are stored in clear) and the metadata to write back if it changed.
 * Throws {@link StoreSecretError} when the store is encrypted and the secret is missing or wrong.
 */
export async function openSecretBox(
    meta: EncryptionMeta,
    secret: string | undefined,
    where: string,
    options: OpenSecretBoxOptions = {},
): Promise<{ box: SecretBox | undefined; update?: EncryptionMeta }> {
    if (meta.keyCheck && meta.salt) {
        if (!secret) {
            throw new StoreSecretError(
                `The session store at ${where} is encrypted: set ${SECRET_ENV} (or the "secret" option) to the secret it was created with.`,
            );
        }
        // Stores of older versions have no parameters: they used Node's defaults, and their values are not bound yet.
        const old = meta.kdf === undefined;
        const kdf = old ? LEGACY_KDF : checkKdf(meta.kdf, where);
        const legacy = old || meta.legacy === 'accepted';
        const box = await SecretBox.derive(secret, meta.salt, kdf, {
            acceptsLegacy: legacy,
            minLength: old ? LEGACY_MIN_SECRET_LENGTH : MIN_SECRET_LENGTH,
        });
        box.verify(meta.keyCheck, kdf, legacy);
        return { box };
    }
    if (!secret) return { box: undefined };
    const salt = SecretBox.newSalt();
    const legacy = options.holdsClearValues === true;
    const box = await SecretBox.derive(secret, salt, DEFAULT_KDF, { acceptsLegacy: legacy });
    const kdf = { ...DEFAULT_KDF };
    return { box, update: { salt, kdf, keyCheck: box.keyCheck(kdf, legacy), ...(legacy ? { legacy: 'accepted' as const } : {}) } };
}

/**
 * The metadata of a store that no longer accepts values of older versions, once it has rewritten every value
 * sealed and bound: same salt and key, parameters written out, a new key check.
 */
export function boundMeta(box: SecretBox, meta: EncryptionMeta): EncryptionMeta {
    const kdf = meta.kdf ?? { ...LEGACY_KDF };
    return { salt: meta.salt, kdf, keyCheck: box.keyCheck(kdf, false) };
}

/** Seals a JSON value for `field` when a box is given, else returns it as is. */
export function sealJson(box: SecretBox | undefined, value: unknown, field: SealedField): unknown {
    return box ? box.seal(JSON.stringify(value), field) : value;
}

/**
 * Opens a value a store keeps as text: a sealed string, or JSON in clear (a JSON string that merely looks sealed is a
 * clear value). With a box that no longer accepts older values, clear JSON is refused like in {@link openJson}.
 */
export function openStoredText<T>(box: SecretBox | undefined, text: string, where: string, field: SealedField): T {
    if (SecretBox.isSealed(text)) return openJson<T>(box, text, where, field);
    if (box && !box.acceptsLegacy) throw storedInClear(field, where);
    return JSON.parse(text) as T;
}

function storedInClear(field: SealedField, where: string): StoreSecretError {
    return new StoreSecretError(
        `${capitalize(describeField(field))} in ${where} is stored in clear, but the store is encrypted: it was planted or damaged. ` +
            'Refused; nothing was changed.',
    );
}

/**
 * Opens a value written by {@link sealJson} for `field`. Without a box, clear values pass through and sealed ones
 * throw (a secret is needed). With one, a value sealed for another place throws, and so does a value in clear unless
 * the store still accepts values of older versions: a store that is encrypted only holds sealed values.
 */
export function openJson<T>(box: SecretBox | undefined, value: unknown, where: string, field: SealedField): T {
    if (!SecretBox.isSealed(value)) {
        if (!box || box.acceptsLegacy) return value as T;
        throw storedInClear(field, where);
    }
    if (!box) {
        throw new StoreSecretError(
            `The session store at ${where} holds encrypted values: set ${SECRET_ENV} (or the "secret" option).`,
        );
    }
    return JSON.parse(box.open(value, field, where)) as T;
}
