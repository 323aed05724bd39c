/**
 * crawlee-sessions: first-class web sessions for Crawlee. Bound sessions, client-identity profiles and
 * renewal that never stalls, for HttpCrawler, CheerioCrawler and PlaywrightCrawler.
 * @packageDocumentation
 */
import './binding/context-types.js';

export { Sessions } from './core/sessions.js';
export type { SessionsOptions, ClearOptions, GetCookiesOptions, CookiesIn, SessionInfo } from './core/sessions.js';
export type { SessionCounters } from './session/bound-session.js';
export type { CookieFormat, CookieInput, CookieInit } from './shared/cookies.js';
export { SessionRenewalError, SessionsClosedError, StoreBacklogError } from './core/errors.js';
export type { PersistenceOptions } from './core/write-behind.js';

export { openStore, MYSQL_URL_ENV } from './stores/open-store.js';
export type { StoreChoice, MySqlStoreChoice } from './stores/open-store.js';
export { EmbeddedSessionStore } from './stores/embedded-store.js';
export type { EmbeddedStoreOptions } from './stores/embedded-store.js';
export { MySqlSessionStore } from './stores/mysql-store.js';
export type { MySqlStoreOptions } from './stores/mysql-store.js';
export { MemorySessionStore } from './stores/memory-store.js';
export { SECRET_ENV } from './stores/secrets.js';
export { StoreUnavailableError, StoreSecretError } from './model/types.js';
export type {
    SessionStore,
    SessionRecord,
    SessionDelta,
    SessionAuth,
    StoredCookie,
    StoredCounters,
    CookieKey,
    RenewalLease,
    StoreEntry,
} from './model/types.js';

export { HeaderRules, HeaderRuleError } from './headers/header-rules.js';
export type { HeaderRulesOptions, ListRulesOptions } from './headers/header-rules.js';
export { SessionHeaders } from './headers/session-headers.js';
export type { SessionHeadersOptions, GetSessionHeadersOptions } from './headers/session-headers.js';
export type { HeaderPipelineOptions } from './headers/pipeline.js';
export { isSensitiveHeader, describeRule, describeSessionHeader } from './headers/redact.js';
export type {
    HeaderRule,
    HeaderRuleInput,
    HeaderRulePatch,
    MatchCondition,
    MatchConditionInput,
    ReplaceStrategy,
    SessionHeader,
    SessionHeaderInput,
    SessionHeaderPatch,
    HeaderScope,
} from './headers/rule.js';
export { SessionTokens } from './tokens/session-tokens.js';
export type { TokenRotation, SiteActivity, SessionTokensOptions, CookieSet } from './tokens/session-tokens.js';
export { TokenNames, DEFAULT_TOKEN_NAMES, normalizeSite } from './tokens/token-names.js';

export { withSessions } from './binding/with-sessions.js';
export type { WithSessionsSettings, CrawlerKind } from './binding/with-sessions.js';
export { createHttpPreNavigationHook } from './binding/http-hooks.js';
export { SessionBoundHttpClient } from './binding/http-client.js';
export { BrowserBinding } from './binding/browser-hooks.js';

export { defineProfiles, loadProfiles } from './profiles/profile.js';
export type { Profile } from './profiles/profile.js';
export type { SessionIdentity } from './profiles/identity.js';
export { redactProxyUrl } from './shared/redact.js';
export { describeProfile } from './profiles/describe.js';

export type { Renewal, RenewalFunction, RenewalContext, RenewalRetryOptions } from './renewal/renewal.js';
export type { SessionRequest, SessionResponse, SessionHttpClient } from './request/session-client.js';

export * from './acquisition/index.js';
export * from './maintainer/index.js';

export { ConfigValidationError } from './shared/validation.js';
export { findChromiumExecutable, chromiumLaunchArgs } from './browser/executable.js';
