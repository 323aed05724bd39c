import { createHash } from 'node:crypto';

import { Secret, TOTP } from 'otpauth';

import { credentialInputProblem, resolveCredential, toCredentialSource, type CredentialInput, type CredentialSource, type Redactor } from './credentials.js';
import { LoginError } from './errors.js';
import { reserveTotpStep, type TotpStepStore } from './totp-ledger.js';

/** The HMAC algorithms RFC 6238 names. */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

/**
 * An account's second factor: a TOTP authenticator (RFC 6238), the kind an authenticator app shows. Its code is
 * `{{totp}}` in HTTP steps and `await credentials.totp()` in a browser login.
 *
 * ```ts
 * totp: { secret: { env: 'ALICE_TOTP_SECRET' } }                                   // 6 digits, 30 s, SHA1
 * totp: { secret: { file: '/run/secrets/bob-totp' }, digits: 8, periodSecs: 60, algorithm: 'SHA256' }
 * ```
 */
export interface TotpInput {
    /**
     * The shared secret, base32 as sites show it under the QR code (`JBSW Y3DP EHPK 3PXP`: spaces and case do not
     * matter, `=` padding is optional), at least 80 bits (16 characters): a literal, `{ env }`, `{ file }` or a
     * function. Never logged; scrubbed from errors.
     */
    secret: CredentialInput;
    /**
     * Digits of a code, 6 to 8.
     * @default 6
     */
    digits?: number;
    /**
     * How long one code is valid, in seconds (the RFC's time step X), 1 to 3600.
     * @default 30
     */
    periodSecs?: number;
    /**
     * The HMAC algorithm: `SHA1`, `SHA256` or `SHA512` (case does not matter).
     * @default 'SHA1'
     */
    algorithm?: TotpAlgorithm;
}

/** Default digits of a TOTP code. */
export const DEFAULT_TOTP_DIGITS = 6;
/** Default TOTP time step, in seconds. */
export const DEFAULT_TOTP_PERIOD_SECS = 30;
/** Default TOTP HMAC algorithm. */
export const DEFAULT_TOTP_ALGORITHM: TotpAlgorithm = 'SHA1';

const ALGORITHMS: readonly TotpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];
const MIN_DIGITS = 6;
const MAX_DIGITS = 8;
const MAX_PERIOD_SECS = 3600;
/** RFC 4226 asks for 128 bits; 80 is what many sites issue (16 base32 characters), and the least accepted here. */
const MIN_SECRET_BYTES = 10;
const TOTP_KEYS = new Set(['secret', 'digits', 'periodSecs', 'algorithm']);

/** A validated second factor (see {@link TotpInput}); the secret is still a source, read when the login runs. */
export interface TotpSettings {
    readonly secret: CredentialSource;
    readonly digits: number;
    readonly periodSecs: number;
    readonly algorithm: TotpAlgorithm;
}

/** One problem of a {@link TotpInput}, relative to it (`''`, `secret`, `digits`, …). Messages never quote a secret. */
export interface TotpIssue {
    path: string;
    message: string;
}

/** Everything wrong with a {@link TotpInput}; a literal secret is checked here, other sources when the login runs. */
export function totpIssues(value: unknown): TotpIssue[] {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        return [{ path: '', message: 'must be { secret, digits?, periodSecs?, algorithm? }' }];
    }
    const input = value as Record<string, unknown>;
    const issues: TotpIssue[] = [];
    for (const key of Object.keys(input)) {
        if (!TOTP_KEYS.has(key)) issues.push({ path: '', message: `has unknown key ${JSON.stringify(key)} (secret, digits, periodSecs, algorithm)` });
    }
    if (input.secret === undefined) {
        issues.push({ path: 'secret', message: 'is required: the base32 secret, as a string, { env }, { file } or a function' });
    } else {
        const problem = credentialInputProblem(input.secret);
        if (problem) issues.push({ path: 'secret', message: problem });
        else if (typeof input.secret === 'string') {
            const secretProblem = base32SecretProblem(input.secret);
            if (secretProblem) issues.push({ path: 'secret', message: secretProblem });
        }
    }
    if (input.digits !== undefined && !isIntegerIn(input.digits, MIN_DIGITS, MAX_DIGITS)) {
        issues.push({ path: 'digits', message: `must be a whole number from ${MIN_DIGITS} to ${MAX_DIGITS}` });
    }
    if (input.periodSecs !== undefined && !isIntegerIn(input.periodSecs, 1, MAX_PERIOD_SECS)) {
        issues.push({ path: 'periodSecs', message: `must be a whole number of seconds from 1 to ${MAX_PERIOD_SECS}` });
    }
    if (input.algorithm !== undefined && algorithmOf(input.algorithm) === undefined) {
        issues.push({ path: 'algorithm', message: `must be one of ${ALGORITHMS.join(', ')}` });
    }
    return issues;
}

/** A validated {@link TotpInput} (call {@link totpIssues} first). */
export function toTotpSettings(input: TotpInput): TotpSettings {
    return Object.freeze({
        secret: toCredentialSource(input.secret),
        digits: input.digits ?? DEFAULT_TOTP_DIGITS,
        periodSecs: input.periodSecs ?? DEFAULT_TOTP_PERIOD_SECS,
        algorithm: algorithmOf(input.algorithm ?? DEFAULT_TOTP_ALGORITHM)!,
    });
}

/**
 * Why a text is not a usable base32 TOTP secret, or undefined when it is one. Never quotes the text (nor a
 * character of it: otpauth's own error would).
 */
export function base32SecretProblem(text: string): string | undefined {
    const normalized = normalizeBase32(text);
    if (!/^[A-Z2-7]*$/.test(normalized)) return 'is not base32: only the letters A–Z and the digits 2–7 (spaces and = padding ignored); its value is not shown';
    // 8 characters carry 5 bytes; a last group of 1, 3 or 6 characters cannot end on a byte boundary.
    if ([1, 3, 6].includes(normalized.length % 8)) return 'is not valid base32: it does not decode to whole bytes (a character missing or extra?)';
    if (Math.floor((normalized.length * 5) / 8) < MIN_SECRET_BYTES) {
        return `is too short: a TOTP secret has at least ${MIN_SECRET_BYTES * 8} bits (16 base32 characters)`;
    }
    return undefined;
}

/** A second factor ready to issue codes: the decoded secret, its ledger key and its parameters. */
export interface ResolvedTotp {
    /** Identifies the account's authenticator in the ledger: a hash of the secret, never the secret. */
    readonly key: string;
    /** The base32 secret, normalised (for the redactor and the code generator only). */
    readonly secret: string;
    readonly digits: number;
    readonly periodSecs: number;
    readonly algorithm: TotpAlgorithm;
}

/**
 * Reads and decodes a second factor's secret now.
 * @throws LoginError (`credentials`) naming the owner and `totp.secret`, never the secret.
 */
export async function resolveTotp(settings: TotpSettings, recipe: string, owner: string): Promise<ResolvedTotp> {
    const raw = await resolveCredential(settings.secret, { recipe, field: 'totp.secret', owner });
    const problem = base32SecretProblem(raw);
    if (problem) throw new LoginError('credentials', recipe, `credential "totp.secret" of ${owner} ${problem}`);
    const secret = normalizeBase32(raw);
    const bytes = Secret.fromBase32(secret).bytes;
    const key = createHash('sha256').update('crawlee-sessions/totp\0').update(bytes).digest('hex').slice(0, 32);
    return Object.freeze({ key, secret, digits: settings.digits, periodSecs: settings.periodSecs, algorithm: settings.algorithm });
}

/** The RFC 6238 code of one time step. */
export function totpCodeAt(totp: ResolvedTotp, step: number): string {
    return TOTP.generate({
        secret: Secret.fromBase32(totp.secret),
        algorithm: totp.algorithm,
        digits: totp.digits,
        period: totp.periodSecs,
        timestamp: step * totp.periodSecs * 1000,
    });
}

/** What {@link totpCodes} needs besides the second factor. */
export interface TotpCodeOptions {
    recipe: string;
    /** Whose second factor it is, for messages. */
    owner: string;
    /** Where every issued code is added, so that no error shows it. */
    redactor: Redactor;
    /** Ends a wait for the next period (the renewal attempt's deadline, or closing). */
    signal: AbortSignal;
    /**
     * A store shared with other processes, where the last used time step is recorded.
     * @default this process only
     */
    store?: TotpStepStore;
}

/**
 * A function that returns a fresh code at each call: the code of a time step this account has not used before (in
 * this process, and in `store` when given), waiting for the next period when the current one is used.
 */
export function totpCodes(totp: ResolvedTotp, options: TotpCodeOptions): () => Promise<string> {
    return async () => {
        let step: number;
        try {
            step = await reserveTotpStep(totp.key, totp.periodSecs, { store: options.store, signal: options.signal, owner: options.owner });
        } catch (error) {
            if (options.signal.aborted) {
                throw new LoginError('network', options.recipe, `waiting for the next TOTP period of ${options.owner} was cut short (the attempt's deadline passed, or the sessions closed)`);
            }
            throw error;
        }
        const code = totpCodeAt(totp, step);
        options.redactor.add(code);
        return code;
    };
}

function normalizeBase32(text: string): string {
    return text.replace(/\s+/g, '').toUpperCase().replace(/=+$/, '');
}

function algorithmOf(value: unknown): TotpAlgorithm | undefined {
    if (typeof value !== 'string') return undefined;
    return ALGORITHMS.find((algorithm) => algorithm === value.toUpperCase());
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
    return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}
