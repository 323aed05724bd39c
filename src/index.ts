/**
 * crawlee-sessions: first-class web sessions for Crawlee. Bound sessions, client-identity profiles and
 * renewal that never stalls, for HttpCrawler, CheerioCrawler and PlaywrightCrawler.
 * @packageDocumentation
 */
import './binding/context-types.js';

export { Sessions } from './core/sessions.js';
export type { SessionsOptions, ClearOptions, GetCookiesOptions, CookiesIn, SessionInfo } from './core/sessions.js';
export type { SessionCounters } from './core/session.js';
export type { CookieFormat, CookieInput, CookieInit } from './core/cookies.js';
export { SessionRenewalError, SessionsClosedError } from './core/errors.js';

export { withSessions } from './binding/with-sessions.js';
export type { WithSessionsSettings, CrawlerKind } from './binding/with-sessions.js';
export { createHttpPreNavigationHook } from './binding/http-hooks.js';
export { SessionBoundHttpClient } from './binding/http-client.js';
export { BrowserBinding } from './binding/browser-hooks.js';

export { defineProfiles, loadProfiles } from './profiles/profile.js';
export type { Profile } from './profiles/profile.js';
export type { SessionIdentity } from './profiles/identity.js';
export { redactProxyUrl, describeProfile } from './profiles/redact.js';

export type { Renewal, RenewalFunction, RenewalContext, RenewalRetryOptions } from './renewal/renewal.js';
export type { SessionRequest, SessionResponse, SessionHttpClient } from './renewal/session-http.js';

export { ConfigValidationError } from './validation.js';
export { findChromiumExecutable, chromiumLaunchArgs } from './browser/executable.js';
