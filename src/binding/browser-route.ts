import type { Page, Route } from 'playwright';

import type { RequestPipeline } from '../request/pipeline.js';
import type { SessionIdentity } from '../model/identity.js';
import type { BoundSession } from '../session/bound-session.js';

/**
 * Sends every request of a Playwright page (navigations, subresources, XHR) through the session's request path: the
 * login's values go only to the origins they belong to, header rules and session headers apply per request.
 *
 * A request the pipeline leaves as the browser made it continues untouched (`route.fallback()`: the browser's own
 * network stack, cache and fingerprint). A request it changes is fetched here, without following redirects, and its
 * answer handed to the page: Playwright carries headers set on a routed request to every redirect it follows — to
 * any host — and never routes those redirect hops, so a redirect goes back to the browser, which follows it with a
 * request of its own that carries none of these values. Those requests leave from Playwright's request context
 * (same proxy, cookies and User-Agent; its TLS is Node's, not Chromium's).
 */
export async function routeThroughPipeline(
    page: Page,
    pipeline: RequestPipeline,
    session: BoundSession,
    identity: SessionIdentity,
): Promise<void> {
    await page.route('**/*', (route) => handle(route, pipeline, session, identity));
}

async function handle(route: Route, pipeline: RequestPipeline, session: BoundSession, identity: SessionIdentity): Promise<void> {
    const request = route.request();
    let url: URL;
    try {
        url = new URL(request.url());
    } catch {
        return route.fallback();
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return route.fallback();
    // After a switch ahead of expiry, the page's cookies are replaced first: the values applied below are the new login's.
    if (session.reseeding) await session.reseeding;
    const headers: Record<string, string | string[] | undefined> = { ...request.headers() };
    const state = pipeline.begin(session, { identity, url, client: 'browser' });
    const sent = pipeline.prepareHop(state, { url, method: request.method(), headers });
    if (sent === url && sameHeaders(request.headers(), headers)) return route.fallback();
    const response = await route.fetch({ url: sent.href, headers: plainHeaders(headers), maxRedirects: 0 });
    await route.fulfill({ response });
}

function sameHeaders(before: Record<string, string>, after: Record<string, string | string[] | undefined>): boolean {
    const keys = Object.keys(after).filter((key) => after[key] !== undefined);
    if (keys.length !== Object.keys(before).length) return false;
    return keys.every((key) => before[key] === after[key]);
}

function plainHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
    const plain: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
        if (value === undefined || name === 'cookie') continue;
        plain[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return plain;
}
