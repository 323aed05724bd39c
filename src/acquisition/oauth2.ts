import { log as crawleeLog } from '@crawlee/core';
import { z } from 'zod';

import type { SessionStore } from '../model/types.js';
import type { SessionHttpClient, SessionResponse } from '../request/session-client.js';
import { describeCause } from '../shared/describe.js';
import { isNetworkError } from '../shared/retry.js';
import { resolveCredential, toCredentialSource, type CredentialInput, type CredentialSource, type Redactor } from './credentials.js';
import { LoginError } from './errors.js';
import { extractRuleSchema, type ExtractRule } from './extract.js';

/**
 * The grants an OAuth2 recipe can obtain its access token with: RFC 6749 §4.3, §4.4, §6, and the authorization code
 * with PKCE (§4.1 with RFC 7636).
 */
export type OAuth2Grant = 'client_credentials' | 'password' | 'refresh_token' | 'authorization_code_pkce';

/**
 * An OAuth2 login (`defineLogin({ oauth2 })`): the access token from `tokenUrl` goes on the session's requests as
 * `Authorization: Bearer …` (on the token endpoint's origin and the recipe's `apply.origins`), its `expires_in`
 * feeds renewal ahead of expiry, and a refresh token is used first when there is one.
 *
 * Credentials come from the session's account (or the recipe's `credentials`): `user` (or `username`) and `password`
 * for the password grant, `refreshToken` for the refresh-token grant, and whatever the recipe's `steps` use for
 * `authorization_code_pkce` (the authorization server's login form).
 *
 * `authorization_code_pkce` sends the session (its cookies, proxy and identity) to `authorizeUrl`; when the server
 * shows a login page instead of redirecting back, the recipe's `steps` log in, then the redirect to `redirectUri` is
 * captured (never fetched), its `state` checked, and its code redeemed with the PKCE verifier.
 */
export interface OAuth2Options {
    /** The token endpoint (absolute http: or https: URL). */
    tokenUrl: string;
    /** How the first access token is obtained; later ones come from the refresh token when the server gave one. */
    grant: OAuth2Grant;
    /**
     * `authorization_code_pkce`: the authorization endpoint (absolute http: or https: URL); `response_type`,
     * `client_id`, `redirect_uri`, `scope`, `audience`, `state` and the S256 `code_challenge` are added to its query.
     * @default none (required by `authorization_code_pkce`)
     */
    authorizeUrl?: string;
    /**
     * `authorization_code_pkce`: the client's registered redirect URI (an http(s) URL such as
     * `http://127.0.0.1:8765/callback`, or a private-use scheme such as `com.example.app:/oauth2`). The redirect to it
     * is captured, never sent: nothing needs to listen there.
     * @default none (required by `authorization_code_pkce`)
     */
    redirectUri?: string;
    /**
     * `authorization_code_pkce`: more query parameters of the authorization request (`prompt`, `access_type`, …);
     * they may not name the ones the login sets.
     * @default none
     */
    authorizeParams?: Record<string, string>;
    /**
     * `authorization_code_pkce`: values to extract from the page the authorization request lands on when the server
     * asks for a login (a CSRF field, the form's `action`), usable in `steps` as `{{name}}`.
     * @default none
     */
    loginPage?: { extract?: ExtractRule[] };
    /**
     * `authorization_code_pkce`: more origins the authorization may pass through (a federated identity provider),
     * besides `authorizeUrl`'s, `tokenUrl`'s and those the steps spell out. A redirect to any other origin (except
     * `redirectUri`) is not followed and fails the login; a step whose URL is filled in from a page is not sent
     * to any other origin.
     * @default none
     */
    authorizeOrigins?: string[];
    clientId: string;
    /**
     * The client's secret, sent in the request body (`client_secret_post`): a literal, `{ env }`, `{ file }` or a
     * function, read at login.
     * @default none: a public client
     */
    clientSecret?: CredentialInput;
    /**
     * Space-separated scopes.
     * @default none
     */
    scope?: string;
    /**
     * The API the token is for (Auth0, Okta and others take `audience`).
     * @default none
     */
    audience?: string;
}

/** A validated {@link OAuth2Options}. */
export interface OAuth2Settings {
    readonly tokenUrl: string;
    readonly grant: OAuth2Grant;
    readonly clientId: string;
    readonly clientSecret: CredentialSource | undefined;
    readonly scope: string | undefined;
    readonly audience: string | undefined;
    /** `authorization_code_pkce`: the authorization endpoint. */
    readonly authorizeUrl: string | undefined;
    /** `authorization_code_pkce`: the redirect URI, captured and never fetched. */
    readonly redirectUri: string | undefined;
    /** `authorization_code_pkce`: more query parameters of the authorization request. */
    readonly authorizeParams: Readonly<Record<string, string>>;
    /** `loginPage.extract`. */
    readonly loginPage: readonly ExtractRule[];
    /** `authorizeOrigins`, as origins. */
    readonly authorizeOrigins: readonly string[];
}

/** The authorization parameters the login sets: `authorizeParams` may not name them. */
export const AUTHORIZE_RESERVED = ['response_type', 'client_id', 'redirect_uri', 'scope', 'audience', 'state', 'code_challenge', 'code_challenge_method'] as const;

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http: or https: URL' });

/** Why a redirect URI is unusable, or undefined (RFC 6749 §3.1.2: absolute, no fragment; RFC 8252 §7.1 schemes). */
function redirectUriProblem(value: string): string | undefined {
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return 'must be an absolute URL';
    }
    if (url.hash || value.includes('#')) return 'must not have a fragment (RFC 6749 §3.1.2)';
    const web = url.protocol === 'http:' || url.protocol === 'https:';
    // A private-use scheme is a reversed domain name (com.example.app:), never javascript:, data: or file:.
    if (!web && !/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/i.test(url.protocol)) return 'must be an http: or https: URL, or a private-use scheme such as com.example.app:';
    return undefined;
}

export const oauth2Schema = z
    .strictObject({
        tokenUrl: httpUrl,
        grant: z.enum(['client_credentials', 'password', 'refresh_token', 'authorization_code_pkce']),
        clientId: z.string().min(1).max(1000),
        clientSecret: z.unknown().optional(),
        scope: z.string().max(4000).optional(),
        audience: z.string().max(2000).optional(),
        authorizeUrl: httpUrl.optional(),
        redirectUri: z
            .string()
            .max(2000)
            .superRefine((value, ctx) => {
                const problem = redirectUriProblem(value);
                if (problem) ctx.addIssue({ code: 'custom', message: problem });
            })
            .optional(),
        authorizeParams: z
            .record(
                z.string().min(1).max(200).refine((name) => !(AUTHORIZE_RESERVED as readonly string[]).includes(name), {
                    error: 'is set by the login itself',
                }),
                z.string().max(2000),
            )
            .optional(),
        loginPage: z.strictObject({ extract: z.array(extractRuleSchema).max(100).optional() }).optional(),
        authorizeOrigins: z.array(httpUrl).max(100).optional(),
    })
    .superRefine((input, ctx) => {
        const pkce = input.grant === 'authorization_code_pkce';
        if (pkce) {
            for (const key of ['authorizeUrl', 'redirectUri'] as const) {
                if (input[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'is required by the authorization_code_pkce grant' });
            }
            return;
        }
        for (const key of ['authorizeUrl', 'redirectUri', 'authorizeParams', 'loginPage', 'authorizeOrigins'] as const) {
            if (input[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only applies to the authorization_code_pkce grant' });
        }
    });

export function toOAuth2Settings(input: z.infer<typeof oauth2Schema>): OAuth2Settings {
    return Object.freeze({
        tokenUrl: input.tokenUrl,
        grant: input.grant,
        clientId: input.clientId,
        clientSecret: input.clientSecret === undefined ? undefined : toCredentialSource(input.clientSecret as CredentialInput),
        scope: input.scope,
        audience: input.audience,
        authorizeUrl: input.authorizeUrl,
        redirectUri: input.redirectUri,
        authorizeParams: Object.freeze({ ...input.authorizeParams }),
        loginPage: Object.freeze((input.loginPage?.extract ?? []) as ExtractRule[]),
        authorizeOrigins: Object.freeze((input.authorizeOrigins ?? []).map((url) => new URL(url).origin)),
    });
}

/** What an authorization (RFC 6749 §4.1 with RFC 7636) came back with: the code, and what redeems it. */
export interface AuthorizationGrant {
    code: string;
    verifier: string;
    redirectUri: string;
}

/** Where rotated refresh tokens are kept (sealed at rest when the store has a secret), by recipe and session. */
export const OAUTH2_REFRESH_COLLECTION = 'oauth2-refresh-tokens';

/** The largest token endpoint answer read: anything bigger is not a token answer. */
const MAX_TOKEN_ANSWER_CHARS = 256 * 1024;
/** The most of a token endpoint answer received before it is abandoned (compressed or not). */
const MAX_TOKEN_ANSWER_BYTES = 1024 * 1024;
/** The longest access or refresh token accepted. */
const MAX_TOKEN_CHARS = 16 * 1024;
/** RFC 6749 §5.2: `error` is 1*( %x20-21 / %x23-5B / %x5D-7E ). */
const ERROR_CODE = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/;
/** The longest `expires_in` believed (ten years), in seconds. */
const MAX_EXPIRES_IN_SECS = 10 * 365 * 24 * 3600;

/** What an OAuth2 login produced. */
export interface OAuth2Outcome {
    accessToken: string;
    /** When the token ends (ms since the epoch), from `expires_in`; undefined when the server did not say. */
    expiresAt: number | undefined;
    issuedAt: number;
    /** How it was obtained: `refresh_token` (a stored or given refresh token) or the recipe's grant. */
    via: OAuth2Grant;
}

/** One OAuth2 login of a session. */
export interface OAuth2Run {
    recipe: string;
    settings: OAuth2Settings;
    /** The session's account, read. */
    fields: Readonly<Record<string, string>>;
    /** Whose account it is, for messages. */
    owner: string;
    sessionId: string;
    http: SessionHttpClient;
    redactor: Redactor;
    /** Where refresh tokens are kept between logins (undefined: this login only). */
    store: Pick<SessionStore, 'getEntry' | 'putEntry'> | undefined;
    /** `authorization_code_pkce`: sends the session through the authorization endpoint for a code. */
    authorize?: () => Promise<AuthorizationGrant>;
}

/**
 * Obtains an access token: with a refresh token first (the one stored by the last login of this session, else the
 * account's `refreshToken`), and with the recipe's grant when there is none or the server refused it. A rotated
 * refresh token is stored (sealed), a refused one forgotten.
 * @throws LoginError `rejected` with the RFC 6749 `error` code of a refusal (never an error description, a token
 * or a secret), `network` when the endpoint cannot be reached.
 */
export async function runOAuth2Login(run: OAuth2Run): Promise<OAuth2Outcome> {
    const { settings, fields } = run;
    const key = `${run.recipe}:${run.sessionId}`;
    const clientSecret = settings.clientSecret
        ? await resolveCredential(settings.clientSecret, { recipe: run.recipe, field: 'oauth2.clientSecret', owner: "the recipe's oauth2 settings" })
        : undefined;
    if (clientSecret) run.redactor.add(clientSecret);
    const client: Record<string, string> = { client_id: settings.clientId, ...(clientSecret ? { client_secret: clientSecret } : {}) };
    const extra: Record<string, string> = {
        ...(settings.scope ? { scope: settings.scope } : {}),
        ...(settings.audience ? { audience: settings.audience } : {}),
    };

    const stored = run.store ? await run.store.getEntry<{ refreshToken?: unknown }>(OAUTH2_REFRESH_COLLECTION, key).catch(() => undefined) : undefined;
    const storedToken = typeof stored?.value?.refreshToken === 'string' ? stored.value.refreshToken : undefined;
    const givenToken = fields.refreshToken;
    const candidates = [...new Set([storedToken, givenToken].filter((token): token is string => !!token))];
    run.redactor.add(...candidates);

    for (const refreshToken of candidates) {
        const answer = await requestToken(run, { grant_type: 'refresh_token', refresh_token: refreshToken, ...client, ...extra });
        if (answer.ok) return await finish(run, key, answer, 'refresh_token', refreshToken);
        // The refresh token is no good any more (expired, revoked, rotated elsewhere): forget it, try the next way.
        if (refreshToken === storedToken && run.store) await run.store.putEntry(OAUTH2_REFRESH_COLLECTION, key, {}, { secret: true }).catch(() => undefined);
        if (!isRefusal(answer)) throw answer.error;
    }
    if (settings.grant === 'refresh_token') {
        if (candidates.length === 0) {
            throw new LoginError('credentials', run.recipe, `the refresh_token grant needs a credential "refreshToken" (${run.owner} has none)`);
        }
        throw candidatesRefused(run.recipe);
    }
    if (settings.grant === 'authorization_code_pkce') {
        if (!run.authorize) throw new LoginError('rejected', run.recipe, 'the authorization_code_pkce grant needs an authorization endpoint to run');
        const authorized = await run.authorize();
        run.redactor.add(authorized.code, authorized.verifier);
        // RFC 6749 §4.1.3 with RFC 7636 §4.5: the code, the same redirect_uri, and the verifier of its challenge.
        const form = { grant_type: 'authorization_code', code: authorized.code, redirect_uri: authorized.redirectUri, code_verifier: authorized.verifier, ...client };
        const answer = await requestToken(run, form);
        if (!answer.ok) throw answer.error;
        return await finish(run, key, answer, settings.grant, undefined);
    }
    const grant: Record<string, string> =
        settings.grant === 'password'
            ? { grant_type: 'password', username: fields.username ?? fields.user ?? '', password: fields.password ?? '' }
            : { grant_type: 'client_credentials' };
    if (settings.grant === 'password' && (!grant.username || !grant.password)) {
        throw new LoginError('credentials', run.recipe, `the password grant needs credentials "user" (or "username") and "password" (${run.owner})`);
    }
    const answer = await requestToken(run, { ...grant, ...client, ...extra });
    if (!answer.ok) throw answer.error;
    return await finish(run, key, answer, settings.grant, undefined);
}

type TokenAnswer = { ok: true; body: Record<string, unknown>; at: number } | { ok: false; error: LoginError; code: string | undefined };

function isRefusal(answer: TokenAnswer): boolean {
    return !answer.ok && answer.error.kind === 'rejected' && answer.error.refused;
}

function candidatesRefused(recipe: string): LoginError {
    return new LoginError('rejected', recipe, 'the token endpoint refused the refresh token (invalid_grant) and the recipe has no other grant', {
        status: 400,
    });
}

async function requestToken(run: OAuth2Run, form: Record<string, string>): Promise<TokenAnswer> {
    const at = Date.now();
    const grant = form.grant_type;
    let response: SessionResponse;
    try {
        response = await run.http.request({
            url: run.settings.tokenUrl,
            method: 'POST',
            form,
            headers: { accept: 'application/json' },
            maxResponseBytes: MAX_TOKEN_ANSWER_BYTES,
        });
    } catch (error) {
        const kind = isNetworkError(error) ? 'network' : 'rejected';
        return { ok: false, code: undefined, error: new LoginError(kind, run.recipe, run.redactor.scrub(`the token request (${grant}) failed: ${describeCause(error)}`)) };
    }
    const body = parseAnswer(response.body);
    if (response.statusCode >= 400) {
        const raw = body?.error;
        const code = typeof raw === 'string' && ERROR_CODE.test(raw) ? run.redactor.scrub(raw) : undefined;
        const detail = `the token endpoint refused the ${grant} grant: ${response.statusCode}${code ? ` ${code}` : ''}`;
        return { ok: false, code, error: new LoginError('rejected', run.recipe, detail, { status: response.statusCode }) };
    }
    if (!body) {
        return { ok: false, code: undefined, error: new LoginError('rejected', run.recipe, `the token endpoint answered ${response.statusCode} without a JSON object (${grant} grant)`) };
    }
    return { ok: true, body, at };
}

function parseAnswer(text: string): Record<string, unknown> | undefined {
    if (typeof text !== 'string' || text.length > MAX_TOKEN_ANSWER_CHARS) return undefined;
    try {
        const value = JSON.parse(text) as unknown;
        return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
        return undefined;
    }
}

async function finish(run: OAuth2Run, key: string, answer: Extract<TokenAnswer, { ok: true }>, via: OAuth2Grant, usedRefresh: string | undefined): Promise<OAuth2Outcome> {
    const { body } = answer;
    const token = body.access_token;
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS || /[\s\x00-\x1f]/.test(token)) {
        throw new LoginError('extraction', run.recipe, `the token endpoint's answer has no usable access_token (${via} grant)`);
    }
    run.redactor.add(token);
    const type = body.token_type;
    if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) {
        throw new LoginError('extraction', run.recipe, 'the token endpoint gave a token_type other than Bearer, which this recipe cannot apply');
    }
    const seconds = typeof body.expires_in === 'string' && /^\d{1,10}$/.test(body.expires_in) ? Number(body.expires_in) : body.expires_in;
    const expiresAt =
        typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_EXPIRES_IN_SECS ? answer.at + seconds * 1000 : undefined;
    const rotated = body.refresh_token;
    if (typeof rotated === 'string' && rotated.length > 0 && rotated.length <= MAX_TOKEN_CHARS) {
        run.redactor.add(rotated);
        if (rotated !== usedRefresh && run.store) {
            // Not stored: the next login falls back to the full grant (the token in hand is good).
            await run.store.putEntry(OAUTH2_REFRESH_COLLECTION, key, { refreshToken: rotated, storedAt: Date.now() }, { secret: true }).catch((error: unknown) => {
                crawleeLog
                    .child({ prefix: 'Login' })
                    .warning(`Login "${run.recipe}": the rotated refresh token could not be stored (${run.redactor.scrub(describeCause(error))}).`);
            });
        }
    }
    return { accessToken: token, expiresAt, issuedAt: answer.at, via };
}
