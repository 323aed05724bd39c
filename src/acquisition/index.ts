/**
 * Session acquisition: login recipes (HTTP and browser mode), extraction rules, validity checks and quick login.
 * @packageDocumentation
 */
export { defineLogin } from './recipe.js';
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
} from './recipe.js';
export type { OAuth2Options, OAuth2Grant, OAuth2Settings } from './oauth2.js';
export { OAUTH2_REFRESH_COLLECTION } from './oauth2.js';
export type { RequestTemplate } from './request-template.js';
export type { ExtractRule, ExtractSource, ExtractedValue, CapturedExchange, ExtractionEvidence } from './extract.js';
export { extractValue, extractAll, describeSource } from './extract.js';
export { parseJsonPath, valueAtJsonPath, findKeyRecursively } from './json-path.js';
export { SecretValue } from './credentials.js';
export type { CredentialInput, CredentialFunction } from './credentials.js';
export type { AccountInput, AccountsInput, AccountResolver } from './accounts.js';
export type { TotpInput, TotpAlgorithm } from './totp.js';
export { LoginError, isNetworkError } from './errors.js';
export type { LoginErrorKind } from './errors.js';
export { matchesCollectionUrl, TrafficCapture } from './capture.js';
export { runHttpLogin } from './http-login.js';
export { runBrowserLogin } from './browser-login.js';
export type { BrowserStorageState, BrowserLoginOutcome } from './browser-login.js';
export { buildAuth, applyCookies } from './apply.js';
export {
    defineCheck,
    createSessionCheck,
    evaluateCheck,
    checkResponseOf,
    describeIndicator,
    SessionCheck,
} from './check.js';
export type {
    Indicator,
    ValidityCheck,
    ValidityCheckInput,
    CheckResponse,
    CheckOutcome,
    Verdict,
    VerdictInput,
    SessionCheckOptions,
} from './check.js';
export {
    LOGIN_STATES_COLLECTION,
    loadLoginState,
    saveLoginState,
    loginStateKey,
    restoreCookies,
} from './quick-login.js';
export type { LoginState, LoginStateStore, QuickLoginOptions } from './quick-login.js';
export { loginRenewal, loginCheck, acquire, performLogin } from './renewal.js';
export type { LoginOptions, LoginOutcome, LoginTarget, AcquireOptions, AcquiredSession } from './renewal.js';
