import { runBrowserLogin, type BrowserLoginRun } from './browser-login.js';
import { LoginError } from './errors.js';
import type { AuthorizationGrant, OAuth2Settings } from './oauth2.js';
import { authorizationRequest, readAnswer } from './oauth2-pkce.js';

/** One authorization of a session in Chromium: the recipe's login function signs in on the server's pages. */
export interface BrowserAuthorizationRun extends Omit<BrowserLoginRun, 'startUrl' | 'redirectUri'> {
    settings: OAuth2Settings & { authorizeUrl: string; redirectUri: string };
}

/**
 * Opens the authorization request in a browser context with the session's proxy and identity, runs the recipe's
 * login function on the server's pages, and captures the browser's request to `redirect_uri` (answered with a blank
 * page, never sent); then checks its `state` and takes its code, as the HTTP authorization does. The context's
 * cookies go into the session's jar.
 * @throws LoginError as {@link runBrowserLogin} does, `browser` when the browser never came back to `redirect_uri`,
 * and `rejected` for another state, no code or an `error=` answer.
 */
export async function runBrowserAuthorization(run: BrowserAuthorizationRun): Promise<AuthorizationGrant> {
    const { settings, redactor } = run;
    const { url, state, verifier } = authorizationRequest(settings, redactor);
    let redirect: URL | undefined;
    await runBrowserLogin({
        ...run,
        startUrl: url.href,
        redirectUri: {
            url: new URL(settings.redirectUri),
            capture: (target) => {
                redirect ??= target;
                const code = target.searchParams.get('code');
                if (code) redactor.add(code);
            },
        },
    });
    if (!redirect) throw new LoginError('browser', run.recipe.name, 'the browser did not come back to redirect_uri');
    return { code: readAnswer(run.recipe.name, redirect, state, redactor), verifier, redirectUri: settings.redirectUri };
}
