/**
 * How the demo's sessions log in, written as login recipes: the declarative form of "GET the form, pick the CSRF
 * token, POST it", of a JSON login API, and of a browser login through a JavaScript app. Each session is tied to
 * its recipe (`Sessions.open({ loginFor })`), and one validity check tells every crawler when a session is logged
 * out: the session is then renewed through its recipe, ahead of the queue, and the page fetched again. No
 * handler ever clears a session by hand.
 */
import {
    createSessionCheck,
    defineLogin,
    loginRenewal,
    type LoginRecipe,
    type Renewal,
    type SessionCheck,
} from '../src/index.js';

/** An account of the demo site. */
export interface Account {
    user: string;
    password: string;
}

/** How a session logs in. */
export type LoginKind = 'form' | 'api' | 'browser';

/**
 * The classic form login (HTTP mode): GET the form and extract its CSRF token with a CSS rule, then POST it with
 * the credentials; the site answers with a `PHPSESSID` cookie, which lands in the session's jar.
 *
 * For your own site you would read the credentials from the environment, as below; the demo passes each
 * session's account instead (`loginRenewal(recipe, { credentials })`).
 */
export function formRecipe(siteUrl: string): LoginRecipe {
    return defineLogin({
        name: 'demo-shop-form',
        credentials: { user: { env: 'DEMO_SHOP_USER' }, password: { env: 'DEMO_SHOP_PASSWORD' } },
        steps: [
            { url: `${siteUrl}/login`, extract: [{ name: 'csrf', from: { css: 'form input[name="csrf"]', attribute: 'value' } }] },
            { url: `${siteUrl}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
        ],
    });
}

/**
 * The JSON login API (HTTP mode): POST the credentials, extract the bearer token from the answer, and send it as
 * `Authorization: Bearer …` on every later request of the session.
 */
export function apiRecipe(siteUrl: string): LoginRecipe {
    return defineLogin({
        name: 'demo-shop-api',
        credentials: { user: { env: 'DEMO_SHOP_USER' }, password: { env: 'DEMO_SHOP_PASSWORD' } },
        steps: [{ url: `${siteUrl}/api/login`, json: { user: '{{user}}', password: '{{password}}' } }],
        extract: [{ name: 'token', from: { json: '$.token' } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
    });
}

/**
 * The single-page app (browser mode): Chromium opens the app through the session's proxy with its User-Agent,
 * the login function fills the form (code as `playwright codegen` records it), and the token the app's
 * JavaScript left in localStorage becomes the session's `Authorization: Bearer …`. The HttpOnly `PHPSESSID` the
 * browser received goes into the session's jar: plain HTTP crawlers use both from then on.
 */
export function appRecipe(siteUrl: string): LoginRecipe {
    return defineLogin({
        name: 'demo-shop-app',
        credentials: { user: { env: 'DEMO_SHOP_USER' }, password: { env: 'DEMO_SHOP_PASSWORD' } },
        startUrl: `${siteUrl}/app`,
        async login({ page, credentials }) {
            await page.fill('#user', credentials.user!);
            await page.fill('#password', credentials.password!);
            await page.click('#submit');
            await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready');
        },
        extract: [{ name: 'token', from: { localStorage: 'token', origin: new URL(siteUrl).origin } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
        browser: { timeoutSecs: 30 },
    });
}

/**
 * `Sessions.open({ loginFor })`: the renewal of each session, i.e. its recipe with its account's credentials.
 * Sessions not in `plan` have no login.
 */
export function loginsFor(siteUrl: string, plan: Record<string, { kind: LoginKind; account: Account }>): (sessionId: string) => Renewal | undefined {
    const recipes: Record<LoginKind, LoginRecipe> = { form: formRecipe(siteUrl), api: apiRecipe(siteUrl), browser: appRecipe(siteUrl) };
    const renewals = new Map<string, Renewal>();
    for (const [sessionId, { kind, account }] of Object.entries(plan)) {
        renewals.set(sessionId, loginRenewal(recipes[kind], { credentials: { user: account.user, password: account.password } }));
    }
    return (sessionId) => renewals.get(sessionId);
}

/**
 * The validity check every crawler of the demo runs on each response: the site's logged-out marker on HTML pages,
 * 401 on the API. It names no renewal, so a logged-out session is renewed through its own login (`loginFor`).
 */
export function loggedOutCheck(): SessionCheck {
    return createSessionCheck({
        indicators: [
            { in: 'body', text: '<h1 id="state">logged-out</h1>', means: 'invalid' },
            { in: 'status', status: [401], means: 'invalid' },
        ],
    });
}
