import type { CookieJar } from 'tough-cookie';

import { allCookies } from '../shared/cookies.js';
import { describeCause } from '../shared/describe.js';
import type { SessionHttpClient, SessionResponse } from '../request/session-client.js';
import { valueMap } from './apply.js';
import type { Redactor } from './credentials.js';
import { LoginError, isNetworkError } from './errors.js';
import { describeMissing, extractAll, type CapturedExchange, type ExtractedValue } from './extract.js';
import type { HttpLoginStep, LoginRecipe } from './recipe.js';
import { renderRequest, templateUses } from './request-template.js';
import { TemplateError } from './template.js';

/** What an HTTP-mode login runs with. */
export interface HttpLoginRun {
    recipe: LoginRecipe;
    /** Resolved credentials, for templates. */
    credentials: Readonly<Record<string, string>>;
    /** Issues a fresh code of the account's second factor, for a step that uses `{{totp}}`. Default: none. */
    totp?: () => Promise<string>;
    /** A client bound to the session's jar, proxy and identity. */
    http: SessionHttpClient;
    /** The session's jar (the client fills it). */
    jar: CookieJar;
    /** Scrubs credentials and extracted values from error messages. */
    redactor: Redactor;
    /** Values known before the first step (an OAuth2 authorization's login page), usable as `{{name}}`. Default none. */
    values?: Readonly<Record<string, ExtractedValue>>;
    /**
     * Asked after each step: `true` ends the login there, the remaining steps unsent (an OAuth2 authorization whose
     * redirect came back). Default: every step is sent.
     */
    done?: () => boolean;
}

/** What an HTTP-mode login produced: every exchange (for the recipe-level extraction) and the steps' values. */
export interface HttpLoginOutcome {
    exchanges: CapturedExchange[];
    values: Record<string, ExtractedValue>;
}

/**
 * Sends the recipe's steps in order with the session: each step's templates are filled with the credentials and
 * the values earlier steps extracted; each answer must have an expected status; each step's extraction rules must
 * find their required values.
 * @throws LoginError (`network`, `rejected` or `extraction`), with secrets scrubbed from its message.
 */
export async function runHttpLogin(run: HttpLoginRun): Promise<HttpLoginOutcome> {
    const { recipe, redactor } = run;
    const exchanges: CapturedExchange[] = [];
    const values: Record<string, ExtractedValue> = { ...run.values };
    for (const [index, step] of recipe.steps.entries()) {
        const label = `step ${index + 1} (${describeStep(step)})`;
        let request;
        try {
            // A code is taken right before the step that sends it, fresh for each such step.
            const code: Record<string, string> = run.totp && templateUses(step).some((use) => use.name === 'totp') ? { totp: await run.totp() } : {};
            request = renderRequest(step, { ...run.credentials, ...code, ...valueMap(values) });
        } catch (error) {
            if (error instanceof TemplateError) throw new LoginError('extraction', recipe.name, `${label}: ${error.message}`);
            throw error;
        }
        let response: SessionResponse;
        try {
            response = await run.http.request(request);
        } catch (error) {
            if (error instanceof LoginError) throw error;
            const kind = isNetworkError(error) ? 'network' : 'rejected';
            throw new LoginError(kind, recipe.name, redactor.scrub(`${label}: ${describeCause(error)}`));
        }
        const exchange: CapturedExchange = {
            request: { method: request.method ?? (request.form || request.json !== undefined || request.body ? 'POST' : 'GET'), url: request.url, headers: request.headers ?? {} },
            response: { statusCode: response.statusCode, url: response.url, headers: response.headers, body: response.body },
        };
        exchanges.push(exchange);
        if (run.done?.()) break;
        const expected = step.expectStatus ? step.expectStatus.includes(response.statusCode) : response.statusCode < 400;
        if (!expected) {
            throw new LoginError(
                'rejected',
                recipe.name,
                `${label} answered ${response.statusCode}${step.expectStatus ? ` (expected ${step.expectStatus.join(' or ')})` : ''}`,
                { status: response.statusCode },
            );
        }
        if (step.extract?.length) {
            const { missing } = extractAll(step.extract, { exchanges: [exchange], cookies: allCookies(run.jar) }, values);
            for (const name of Object.keys(values)) redactor.add(values[name]!.value);
            if (missing.length) {
                throw new LoginError('extraction', recipe.name, `${label}: not found: ${describeMissing(step.extract, missing)}`);
            }
        }
    }
    return { exchanges, values };
}

/** `POST /login` — the method and path of a step, for messages (no query: it may carry secrets). */
export function describeStep(step: HttpLoginStep): string {
    const method = step.method ?? (step.form || step.json !== undefined || step.body !== undefined ? 'POST' : 'GET');
    let path: string;
    try {
        path = new URL(step.url.replace(/\{\{[^}]*\}\}/g, 'x')).pathname;
    } catch {
        path = step.url;
    }
    return `${method} ${path}`;
}
