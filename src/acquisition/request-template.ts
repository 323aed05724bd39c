import { z } from 'zod';

import type { SessionRequest } from '../request/session-client.js';
import { renderDeep, renderRecord, renderTemplate, TemplateError, templateNames } from './template.js';

/** HTTP methods a login step or a check may use. */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/**
 * A request to send with a session: a login step or a validity check. Every string may contain `{{name}}`
 * templates (credentials and earlier extracted values in login steps; extracted values in checks).
 */
export interface RequestTemplate {
    /** Absolute `http:` or `https:` URL. */
    url: string;
    /**
     * The HTTP method.
     * @default `GET`, or `POST` when a body (`form`, `json` or `body`) is given
     */
    method?: (typeof HTTP_METHODS)[number];
    /**
     * Extra headers; they override the session identity's headers of the same name.
     * @default none
     */
    headers?: Record<string, string>;
    /**
     * Query parameters appended to the URL.
     * @default none
     */
    query?: Record<string, string>;
    /** A URL-encoded form body. */
    form?: Record<string, string>;
    /** A JSON body. */
    json?: unknown;
    /** A raw body. */
    body?: string;
    /**
     * Timeout of the request in seconds.
     * @default 30
     */
    timeoutSecs?: number;
}

const templatedUrl = z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
        // A template may stand for the whole origin, or the whole URL (a form's extracted `action`); check the URL
        // with placeholders replaced by a dummy (the rendered URL is checked again when the step is sent).
        const probe = value.replace(/^\{\{[^}]*\}\}/, 'http://x').replace(/\{\{[^}]*\}\}/g, 'x');
        let url: URL | undefined;
        try {
            url = new URL(probe);
        } catch {
            // reported below
        }
        if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
            ctx.addIssue({ code: 'custom', message: 'must be an absolute http: or https: URL' });
        }
    });

const headerRecord = z.record(
    z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'is not a valid header name' }),
    // eslint-disable-next-line no-control-regex
    z.string().refine((value) => !/[\r\n\u0000]/.test(value), { error: 'must not contain line breaks' }),
);

/** The fields of a {@link RequestTemplate}, for schemas that extend it. */
export const requestTemplateShape = {
    url: templatedUrl,
    method: z.enum(HTTP_METHODS).optional(),
    headers: headerRecord.optional(),
    query: z.record(z.string(), z.string()).optional(),
    form: z.record(z.string(), z.string()).optional(),
    json: z.unknown().optional(),
    body: z.string().optional(),
    timeoutSecs: z.number().positive().max(600).optional(),
};

/** Refuses templates with more than one body. */
export function refineOneBody(template: { form?: unknown; json?: unknown; body?: unknown }, ctx: z.RefinementCtx): void {
    const bodies = (['form', 'json', 'body'] as const).filter((key) => template[key] !== undefined);
    if (bodies.length > 1) {
        ctx.addIssue({ code: 'custom', path: [bodies[1]!], message: `cannot be combined with ${bodies[0]}: give one body` });
    }
}

/** Zod schema of a {@link RequestTemplate}. */
export const requestTemplateSchema = z.strictObject(requestTemplateShape).superRefine(refineOneBody);

/** The template names a request template uses, with the field each appears in (for validation messages). */
export function templateUses(template: RequestTemplate): Array<{ path: string[]; name: string }> {
    const uses: Array<{ path: string[]; name: string }> = [];
    const scan = (value: unknown, path: string[]) => {
        if (typeof value === 'string') templateNames(value).forEach((name) => uses.push({ path, name }));
        else if (Array.isArray(value)) value.forEach((item, index) => scan(item, [...path, String(index)]));
        else if (value && typeof value === 'object') Object.entries(value).forEach(([key, item]) => scan(item, [...path, key]));
    };
    scan(template.url, ['url']);
    for (const key of ['headers', 'query', 'form', 'json', 'body'] as const) scan(template[key], [key]);
    return uses;
}

/**
 * The request a template stands for: templates rendered with `values` and the query appended to the URL. A
 * session's login values are not added here: the request path adds them on the origins they belong to.
 */
export function renderRequest(template: RequestTemplate, values: Readonly<Record<string, string>>): SessionRequest {
    const rendered = renderTemplate(template.url, values);
    let url: URL | undefined;
    try {
        url = new URL(rendered);
    } catch {
        url = undefined;
    }
    // The URL may come from a page (a form's action): only absolute http(s) URLs are sent, and never quoted.
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new TemplateError('the URL is not an absolute http: or https: URL once filled in');
    for (const [key, value] of Object.entries(renderRecord(template.query, values) ?? {})) url.searchParams.set(key, value);
    const request: SessionRequest = { url: url.href };
    const headers = renderRecord(template.headers, values);
    if (headers) request.headers = headers;
    if (template.method) request.method = template.method;
    if (template.form) request.form = renderRecord(template.form, values);
    if (template.json !== undefined) request.json = renderDeep(template.json, values);
    if (template.body !== undefined) request.body = renderTemplate(template.body, values);
    if (template.timeoutSecs !== undefined) request.timeoutSecs = template.timeoutSecs;
    return request;
}
