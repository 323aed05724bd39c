/**
 * crawlee-sessions: first-class web sessions for Crawlee. Bound sessions, client-identity profiles and renewal that
 * never stalls, for HttpCrawler, CheerioCrawler and PlaywrightCrawler.
 *
 * This is the whole public surface, listed on purpose. Left out: the parts `Sessions` is made of (registry, renewal
 * coordinator, request pipeline, store sync), the Crawlee adapters behind `withSessions()` (hooks, the crawler's HTTP
 * client, the browser binding), and the helpers of login recipes and the CLI: they change without notice. Playwright
 * and mysql2 are not loaded by importing this module, only when a browser crawler, a browser login or the MySQL store
 * is used (the MySQL store class itself: `crawlee-sessions/mysql`).
 * @packageDocumentation
 */
import './binding/context-types.js';

// --- Sessions ---
export { Sessions, DEFAULT_SESSION_ID, DEFAULT_RENEWAL_OPTIONS, DEFAULT_PROFILE_FAILURE_THRESHOLD } from './core/sessions.js';
export type {
    SessionsOptions,
    RenewalOptions,
    ClearOptions,
    GetCookiesOptions,
    CookiesIn,
    SessionInfo,
} from './core/sessions.js';
export type { SessionHeadersApi } from './core/header-api.js';
export type {
    SessionEventMap,
    SessionEventName,
    RenewedEvent,
    RenewalFailedEvent,
    ExpiredEvent,
    ProfileFailedEvent,
    StoreOutageEvent,
    StoreRecoveredEvent,
    CooldownEvent,
} from './core/events.js';
export type { SessionTokensApi } from './core/token-api.js';
export type { SessionCounters, SessionStatus } from './session/bound-session.js';
export type { SessionStats } from './core/stats.js';
export { DEFAULT_PERSISTENCE } from './core/write-behind.js';
export type { PersistenceOptions } from './core/write-behind.js';
export type { CookieFormat, CookieInput, CookieInit } from './shared/cookies.js';
export { DEFAULT_RETRY_POLICY } from './shared/retry.js';
export type { RetryPolicy } from './shared/retry.js';
export { MAX_SESSION_ID_LENGTH } from './shared/ids.js';

// --- Pacing, cooldowns, the logout guard ---
export type { PacingOptions } from './pacing/options.js';
export { DEFAULT_COOLDOWN_STATUSES, DEFAULT_COOLDOWN_SECS, DEFAULT_MAX_COOLDOWN_SECS } from './pacing/options.js';
export type { LogoutGuardOptions } from './pacing/logout-guard.js';
export { DEFAULT_LOGOUT_PATTERNS } from './pacing/logout-guard.js';

// --- Crawlee binding ---
export { withSessions } from './binding/with-sessions.js';
export type { WithSessionsSettings, CrawlerKind } from './binding/with-sessions.js';

// --- Profiles and identity ---
export { defineProfiles, loadProfiles } from './profiles/profile.js';
export type { Profile } from './profiles/profile.js';
export type { SessionIdentity } from './model/identity.js';
export { describeProfile } from './profiles/describe.js';
export { redactProxyUrl } from './shared/redact.js';

// --- Renewal ---
export type { Renewal, RenewalFunction, RenewalContext, SessionAuthInput } from './renewal/renewal.js';
export { DEFAULT_RENEW_AHEAD, RENEWAL_MODES_COLLECTION } from './renewal/ahead.js';
export type { RenewAheadOptions, RenewAheadMode } from './renewal/ahead.js';
export type { SessionRequest, SessionResponse, SessionHttpClient } from './request/session-client.js';
export { ResponseTooLargeError } from './request/session-client.js';

// --- Stores ---
export { openStore, MYSQL_URL_ENV } from './stores/open-store.js';
export type { StoreChoice, MySqlStoreChoice, OpenStoreOptions } from './stores/open-store.js';
export { EmbeddedSessionStore, StoreDamagedError, StoreReadOnlyError } from './stores/embedded-store.js';
export type { EmbeddedStoreOptions, RecoveryReport } from './stores/embedded-store.js';
export type { MySqlSessionStore, MySqlStoreOptions } from './stores/mysql-store.js';
export { MemorySessionStore } from './stores/memory-store.js';
export { SECRET_ENV, MIN_SECRET_LENGTH } from './stores/secrets.js';
export { applySessionDelta } from './model/merge.js';
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
    RejectedDelta,
} from './model/types.js';

// --- Header rules, session headers, tokens ---
export { HeaderRules } from './headers/header-rules.js';
export type { HeaderRulesOptions, ListRulesOptions } from './headers/header-rules.js';
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
export type { TokenRotation, SiteActivity, SessionTokensOptions, CookieSet } from './tokens/session-tokens.js';
export type { TokenNames, TokenNamesOptions } from './tokens/token-names.js';
export { DEFAULT_TOKEN_NAMES, normalizeSite } from './tokens/token-names.js';

// --- Login recipes, extraction, checks ---
export { defineLogin } from './acquisition/recipe.js';
export type {
    LoginRecipe,
    LoginRecipeInput,
    HttpLoginStep,
    BrowserLoginFunction,
    BrowserLoginArgs,
    BrowserCredentials,
    BrowserLoginSettings,
    ApplyRules,
    CookieRule,
    LoginExpiry,
} from './acquisition/recipe.js';
export type { AccountInput, AccountsInput, AccountResolver } from './acquisition/accounts.js';
export type { TotpInput, TotpAlgorithm } from './acquisition/totp.js';
export type { OAuth2Options, OAuth2Grant, OAuth2Settings } from './acquisition/oauth2.js';
export { OAUTH2_REFRESH_COLLECTION } from './acquisition/oauth2.js';
export type { RequestTemplate } from './acquisition/request-template.js';
export type { ExtractRule, ExtractSource, ExtractedValue, CapturedExchange, ExtractionEvidence } from './acquisition/extract.js';
export { extractValue, extractAll, describeSource } from './acquisition/extract.js';
export { SecretValue } from './acquisition/credentials.js';
export type { CredentialInput, CredentialFunction } from './acquisition/credentials.js';
export type { LoginErrorKind } from './acquisition/errors.js';
export { defineCheck, createSessionCheck, evaluateCheck, describeIndicator, SessionCheck } from './acquisition/check.js';
export type {
    Indicator,
    ValidityCheck,
    ValidityCheckInput,
    CheckResponse,
    CheckOutcome,
    Verdict,
    VerdictInput,
    SessionCheckOptions,
} from './acquisition/check.js';
export type { LoginState, QuickLoginOptions } from './acquisition/quick-login.js';
export { loginRenewal, loginCheck, acquire } from './acquisition/renewal.js';
export type { LoginOptions, LoginOutcome, LoginTarget, AcquireOptions, AcquiredSession } from './acquisition/renewal.js';

// --- Maintainer ---
export { Maintainer } from './maintainer/maintainer.js';
export { defineMaintainerConfig, loadMaintainerConfig } from './maintainer/config.js';
export type { MaintainerConfig, MaintainerConfigInput, MaintainedRecipe, MaintainedRecipeInput, MaintainerConcurrency } from './maintainer/config.js';
export type { Schedule, ScheduleInput, OnceSchedule, DailySchedule, IntervalSchedule, DeprecatedIntervalSchedule, CronSchedule, BeforeExpirySchedule } from './maintainer/schedule.js';
export { defineUrlNormalizerRules, normalizeUrl, sessionHash } from './maintainer/url-normalizer.js';
export type { UrlNormalizerRule, UrlNormalizerRules } from './maintainer/url-normalizer.js';
export type { MaintainerStatusRow, MaintainedState } from './maintainer/status.js';

// --- Browsers ---
export { findChromiumExecutable, chromiumLaunchArgs } from './browser/executable.js';

// --- Errors: every error a user can meet, each with a stable `code` ---
export { CrawleeSessionsError, ERROR_CODES, isCrawleeSessionsError } from './shared/errors.js';
export type { CrawleeSessionsErrorCode } from './shared/errors.js';
export { ConfigValidationError } from './shared/validation.js';
export type { ConfigValidationIssue } from './shared/validation.js';
export { SessionIdError } from './shared/ids.js';
export { SessionNotLoadedError, SessionsClosedError, StoreBacklogError } from './core/errors.js';
export { SessionRenewalError, RenewalTimeoutError, NoRenewalError } from './renewal/errors.js';
export { RenewalAnswerError } from './renewal/renewal.js';
export { StoreUnavailableError, StoreSecretError, StoreWriteRejectedError } from './model/types.js';
export { HeaderRuleError } from './headers/header-rules.js';
export { LoginError } from './acquisition/errors.js';
export { TemplateError } from './acquisition/template.js';
export { SessionCheckError } from './binding/check-handler.js';
export { CronSyntaxError } from './maintainer/cron.js';

// --- Types that public signatures mention (so that users can name them) ---
export type { Account, AccountBook } from './acquisition/accounts.js';
export { TOTP_FIELD } from './acquisition/accounts.js';
export type { BrowserFamily, BrowserName, BrowserOs, DeviceClass } from './shared/user-agent.js';
export type { BrowserStorageState } from './acquisition/browser-login.js';
export type { ChromiumExecutable, ChromiumExecutableSource, FindChromiumExecutableOptions } from './browser/executable.js';
export { HTTP_METHODS } from './acquisition/request-template.js';
export type { ConfigValidationErrorOptions } from './shared/validation.js';
export type { CredentialSource } from './acquisition/credentials.js';
export type { HeaderChange } from './headers/rule.js';
export type { LoginStateStore } from './acquisition/quick-login.js';
export type { RenewalRetryOptions, RenewalRetryInput } from './maintainer/config.js';
export type { SingleProcessStore } from './stores/single-process-store.js';
export type { SiteTokenConfig } from './tokens/token-names.js';
export type { StorageConfigLike } from './stores/embedded-store.js';
export type { TotpSettings } from './acquisition/totp.js';
export type { TotpStepStore } from './acquisition/totp-ledger.js';
export type { WriterTotals } from './model/types.js';
