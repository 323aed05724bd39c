/**
 * How the demo's sessions log in, written as login recipes: the declarative form of "GET the form, pick the CSRF
 * token, POST it", of a JSON login API, and of a browser login through a JavaScript app with a second factor. Each
 * recipe holds the accounts of its sessions (`accounts`: session id → account), so every session logs in as its own
 * user, through the one renewal of its recipe (`Sessions.open({ loginFor })`). One validity check tells every crawler
 * when a session is logged out: the session is then renewed through its recipe, with its own account, ahead of the
 * queue, and the page fetched again. No handler ever clears a session by hand.
 */
import {
    createSessionCheck,
    defineLogin,
    loginRenewal,
    type AccountInput,
    type LoginRecipe,
    type Renewal,
    type SessionCheck,
} from '../src/index.js';

/** An account of the demo site. */
export interface Account {
    user: string;
    password: string;
    /** The base32 secret of the account's authenticator, when it has a second factor. */
    totpSecret?: string;
}

/** How a session logs in. */
export type LoginKind = 'form' | 'api' | 'browser';

/** session id → account, as a recipe's `accounts`. */
export type Accounts = Record<string, AccountInput>;

/**
 * The classic form login (HTTP mode): GET the form and extract its CSRF token with a CSS rule, then POST it with
 * the session's own account; the site answers with a `PHPSESSID` cookie, which lands in the session's jar.
 */
export function formRecipe(siteUrl: string, accounts: Accounts): LoginRecipe {
    return defineLogin({
        name: 'demo-shop-form',
        accounts,
        steps: [
            { url: `${siteUrl}/login`, extract: [{ name: 'csrf', from: { css: 'form input[name="csrf"]', attribute: 'value' } }] },
            { url: `${siteUrl}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
        ],
    });
}

/**
 * The JSON login API (HTTP mode): POST the account's credentials, extract the bearer token from the answer, and send
 * it as `Authorization: Bearer …` on every later request of the session.
 */
export function apiRecipe(siteUrl: string, accounts: Accounts): LoginRecipe {
    return defineLogin({
        name: 'demo-shop-api',
        accounts,
        steps: [{ url: `${siteUrl}/api/login`, json: { user: '{{user}}', password: '{{password}}' } }],
        extract: [{ name: 'token', from: { json: '$.token' } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
    });
}

/**
 * The single-page app (browser mode): Chromium opens the app through the session's proxy with its User-Agent, the
 * login function fills the form (code as `playwright codegen` records it) with the account's password and a fresh
 * code of its authenticator (`credentials.totp()`, never the same code twice), and the token the app's JavaScript
 * left in localStorage becomes the session's `Authorization: Bearer …`. The HttpOnly `PHPSESSID` the browser
 * received goes into the session's jar: plain HTTP crawlers use both from then on.
 */
export function appRecipe(siteUrl: string, accounts: Accounts): LoginRecipe {
    return defineLogin({
        name: 'demo-shop-app',
        accounts,
        startUrl: `${siteUrl}/app`,
        async login({ page, credentials }) {
            await page.fill('#user', credentials.user);
            await page.fill('#password', credentials.password);
            await page.fill('#code', await credentials.totp());
            await page.click('#submit');
            await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready');
        },
        extract: [{ name: 'token', from: { localStorage: 'token', origin: new URL(siteUrl).origin } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
        browser: { timeoutSecs: 30 },
    });
}

/**
 * A recipe's account for the demo: the user and password, and the authenticator's secret if it has one. For your own
 * site, read the secrets when the login runs instead of writing them down: `password: { env: 'SHOP_ALICE_PASSWORD' }`,
 * `totp: { secret: { file: '/run/secrets/alice-totp' } }`.
 */
function recipeAccount(account: Account): AccountInput {
    return {
        user: account.user,
        password: account.password,
        ...(account.totpSecret ? { totp: { secret: account.totpSecret } } : {}),
    };
}

/**
 * `Sessions.open({ loginFor })`: the renewal of each session, i.e. the recipe of its kind, which holds the accounts of
 * the sessions of that kind. Sessions not in `plan` have no login.
 */
export function loginsFor(siteUrl: string, plan: Record<string, { kind: LoginKind; account: Account }>): (sessionId: string) => Renewal | undefined {
    const accountsOf = (kind: LoginKind): Accounts =>
        Object.fromEntries(Object.entries(plan).flatMap(([sessionId, entry]) => (entry.kind === kind ? [[sessionId, recipeAccount(entry.account)]] : [])));
    const renewals: Record<LoginKind, Renewal> = {
        form: loginRenewal(formRecipe(siteUrl, accountsOf('form'))),
        api: loginRenewal(apiRecipe(siteUrl, accountsOf('api'))),
        browser: loginRenewal(appRecipe(siteUrl, accountsOf('browser'))),
    };
    return (sessionId) => (Object.hasOwn(plan, sessionId) ? renewals[plan[sessionId]!.kind] : undefined);
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
