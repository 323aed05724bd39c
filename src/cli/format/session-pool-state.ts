import { Cookie } from 'tough-cookie';
import { z } from 'zod';

import { MAX_USER_DATA_BYTES } from '../../core/user-data.js';
import { sessionIdProblem } from '../../shared/ids.js';
import { ConfigValidationError, parseWithZod } from '../../shared/validation.js';
import { CliError } from '../errors.js';
import { isExpired } from './cookies.js';

/** The largest state file read (Crawlee's pool holds 1000 sessions by default; this is far beyond). */
export const MAX_POOL_STATE_BYTES = 64 * 1024 * 1024;
const MAX_SESSIONS = 100_000;
const MAX_COOKIES_PER_SESSION = 3000;

/** One cookie as tough-cookie's `CookieJar.toJSON()` writes it (what Crawlee's `Session.getState()` keeps). */
const cookieSchema = z.looseObject({
    key: z.string().min(1, 'must not be empty').max(4096),
    value: z.string().max(16 * 1024),
    domain: z.string().max(255).nullish(),
    path: z.string().max(4096).nullish(),
    expires: z.string().max(64).nullish(),
    maxAge: z.union([z.number(), z.string().max(32)]).nullish(),
    secure: z.boolean().optional(),
    httpOnly: z.boolean().optional(),
    hostOnly: z.boolean().nullish(),
    sameSite: z.string().max(16).optional(),
});

const userDataSchema = z
    .record(z.string(), z.unknown())
    .refine((data) => Buffer.byteLength(JSON.stringify(data)) <= MAX_USER_DATA_BYTES, `must be at most ${MAX_USER_DATA_BYTES} bytes as JSON`);

const sessionSchema = z.looseObject({
    id: z.string().superRefine((id, ctx) => {
        const problem = sessionIdProblem(id);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    cookieJar: z.looseObject({ cookies: z.array(cookieSchema).max(MAX_COOKIES_PER_SESSION).default([]) }),
    userData: userDataSchema.optional(),
    expiresAt: z.string().max(64).optional(),
    errorScore: z.number().optional(),
    maxErrorScore: z.number().optional(),
    usageCount: z.number().optional(),
    maxUsageCount: z.number().optional(),
});

/** Crawlee's `SessionPool.getState()`, persisted under `SDK_SESSION_POOL_STATE` in the default key-value store. */
const poolStateSchema = z.looseObject({
    sessions: z.array(sessionSchema).max(MAX_SESSIONS, `must hold at most ${MAX_SESSIONS} sessions`),
});

/** One session of a pool state, ready to import. */
export interface PoolStateSession {
    id: string;
    /** Its unexpired cookies. */
    cookies: Cookie[];
    /** Its `userData`, when not empty. */
    userData: Record<string, unknown> | undefined;
}

/** What {@link parsePoolState} found. */
export interface ParsedPoolState {
    sessions: PoolStateSession[];
    /** Sessions Crawlee would not use again (retired by errors or usage, or expired), left out. */
    skippedUnusable: number;
    /** Expired cookies left out. */
    skippedCookies: number;
}

/**
 * Reads Crawlee's session pool state (`storage/key_value_stores/default/SDK_SESSION_POOL_STATE.json`): each session's
 * cookies (tough-cookie's jar JSON) and user data. A damaged or hostile file is refused with the field named
 * (`sessions[3].cookieJar.cookies[0].key: …`), without quoting cookie values or user data.
 *
 * @param text The file's content.
 * @param source The file's name, for errors.
 */
export function parsePoolState(text: string, source: string, now = Date.now()): ParsedPoolState {
    if (Buffer.byteLength(text) > MAX_POOL_STATE_BYTES) throw new CliError(`${source} is larger than ${MAX_POOL_STATE_BYTES / 1024 / 1024} MiB: not a session pool state`);
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (error) {
        throw new CliError(`${source} is not JSON (${(error as Error).message.split('\n')[0]}): expected Crawlee's SDK_SESSION_POOL_STATE`);
    }
    let state: z.infer<typeof poolStateSchema>;
    try {
        state = parseWithZod(poolStateSchema, json, 'SDK_SESSION_POOL_STATE');
    } catch (error) {
        if (!(error instanceof ConfigValidationError)) throw error;
        const problems = error.issues.slice(0, 5).map((issue) => {
            // Never quote what a cookie value or user data held.
            const message = /value|userData/.test(issue.path) ? issue.message.replace(/ \(got .*\)$/, '') : issue.message;
            return `${issue.path || '(the file)'}: ${message}`;
        });
        const more = error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : '';
        throw new CliError(`${source} is not a valid session pool state: ${problems.join('; ')}${more}`);
    }
    const seen = new Set<string>();
    const sessions: PoolStateSession[] = [];
    let skippedUnusable = 0;
    let skippedCookies = 0;
    for (const [index, session] of state.sessions.entries()) {
        if (seen.has(session.id)) throw new CliError(`${source}: sessions[${index}].id: session ${JSON.stringify(session.id)} appears twice`);
        seen.add(session.id);
        if (!isUsable(session, now)) {
            skippedUnusable++;
            continue;
        }
        const cookies: Cookie[] = [];
        for (const [position, json] of session.cookieJar.cookies.entries()) {
            const cookie = Cookie.fromJSON(json);
            if (!cookie || !cookie.domain) {
                throw new CliError(`${source}: sessions[${index}].cookieJar.cookies[${position}]: not a cookie tough-cookie can read (domain missing?)`);
            }
            if (isExpired(cookie, now)) skippedCookies++;
            else cookies.push(cookie);
        }
        const userData = session.userData && Object.keys(session.userData).length > 0 ? session.userData : undefined;
        sessions.push({ id: session.id, cookies, userData });
    }
    return { sessions, skippedUnusable, skippedCookies };
}

/** As Crawlee's `Session.isUsable()`: not blocked by errors, not used up, not expired. */
function isUsable(session: z.infer<typeof sessionSchema>, now: number): boolean {
    if (session.errorScore !== undefined && session.maxErrorScore !== undefined && session.errorScore >= session.maxErrorScore) return false;
    if (session.usageCount !== undefined && session.maxUsageCount !== undefined && session.usageCount >= session.maxUsageCount) return false;
    const expiresAt = session.expiresAt === undefined ? Number.NaN : Date.parse(session.expiresAt);
    return Number.isNaN(expiresAt) || expiresAt > now;
}
