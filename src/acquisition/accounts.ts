import { sessionIdProblem } from '../shared/ids.js';
import { describeCause } from '../shared/describe.js';
import { credentialInputProblem, resolveCredential, toCredentialSource, type CredentialInput, type CredentialSource } from './credentials.js';
import { LoginError } from './errors.js';
import { resolveTotp, toTotpSettings, totpIssues, type ResolvedTotp, type TotpInput, type TotpSettings } from './totp.js';

/**
 * One account of a site: its credentials by name (usable as `{{name}}` in HTTP steps and as `credentials.name` in a
 * browser login), each a literal, `{ env }`, `{ file }` or a function (see {@link CredentialInput}), and optionally
 * its second factor under `totp`.
 *
 * ```ts
 * { user: 'alice', password: { env: 'ALICE_PASSWORD' }, totp: { secret: { file: '/run/secrets/alice-totp' } } }
 * ```
 */
export interface AccountInput {
    [credential: string]: CredentialInput | TotpInput | undefined;
    /**
     * The account's second factor (`{{totp}}` in steps, `credentials.totp()` in a browser login).
     * @default none
     */
    totp?: TotpInput;
}

/**
 * Finds the account of a session: called with the session id each time the session logs in; undefined means the
 * session has no account (its login then fails: it never borrows another one).
 */
export type AccountResolver = (sessionId: string) => AccountInput | undefined | Promise<AccountInput | undefined>;

/** A recipe's accounts: session id → account, or a function finding a session's account. */
export type AccountsInput = Readonly<Record<string, AccountInput>> | AccountResolver;

/** A validated account: credential sources (read when the login runs) and the second factor. */
export interface Account {
    readonly fields: Readonly<Record<string, CredentialSource>>;
    readonly totp: TotpSettings | undefined;
}

/** A recipe's validated accounts. */
export type AccountBook =
    | { readonly kind: 'record'; readonly accounts: ReadonlyMap<string, Account> }
    | { readonly kind: 'function'; readonly resolve: AccountResolver };

/** One problem found in accounts or credentials; `path` is relative to the recipe (`accounts.bob.password`). */
export interface AccountIssue {
    path: string;
    message: string;
}

const CREDENTIAL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The name a second factor takes in an account and in templates. */
export const TOTP_FIELD = 'totp';
/** Account names listed in an error about a session without one. */
const LISTED_ACCOUNTS = 10;

/**
 * Everything wrong with one account (or a recipe's `credentials`, which is the shared account). Messages never quote a
 * credential's value. `requireFields` refuses an account without credentials.
 */
export function accountIssues(value: unknown, path: readonly string[], options: { allowTotp: boolean; requireFields: boolean }): AccountIssue[] {
    const at = (...more: string[]) => formatPath([...path, ...more]);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        return [{ path: at(), message: 'must be an object of credential name → a string, { env }, { file } or a function (and an optional totp)' }];
    }
    const issues: AccountIssue[] = [];
    const entries = Object.entries(value as Record<string, unknown>);
    if (options.requireFields && entries.filter(([name]) => name !== TOTP_FIELD).length === 0) {
        issues.push({ path: at(), message: 'needs at least one credential (e.g. user and password)' });
    }
    for (const [name, entry] of entries) {
        if (name === TOTP_FIELD) {
            if (!options.allowTotp) {
                issues.push({ path: at(name), message: 'a second factor belongs to one account: with accounts, give each account its own totp' });
                continue;
            }
            for (const issue of totpIssues(entry)) issues.push({ path: issue.path ? at(name, issue.path) : at(name), message: issue.message });
            continue;
        }
        if (!CREDENTIAL_NAME.test(name)) {
            issues.push({ path: at(), message: `${JSON.stringify(name)} is not a usable credential name (letters, digits and _)` });
            continue;
        }
        const problem = credentialInputProblem(entry);
        if (problem) issues.push({ path: at(name), message: problem });
    }
    return issues;
}

/** Everything wrong with a recipe's `accounts`, and with its `credentials` next to them (fields given twice). */
export function accountsIssues(accounts: unknown, credentials: unknown): AccountIssue[] {
    if (typeof accounts === 'function') return [];
    if (accounts === null || typeof accounts !== 'object' || Array.isArray(accounts)) {
        return [{ path: 'accounts', message: 'must be an object of session id → account, or a function (sessionId) => account | undefined' }];
    }
    const entries = Object.entries(accounts as Record<string, unknown>);
    if (entries.length === 0) return [{ path: 'accounts', message: 'needs at least one account' }];
    const shared = credentials && typeof credentials === 'object' ? new Set(Object.keys(credentials)) : new Set<string>();
    const issues: AccountIssue[] = [];
    for (const [sessionId, account] of entries) {
        const problem = sessionIdProblem(sessionId);
        if (problem) {
            issues.push({ path: 'accounts', message: `${JSON.stringify(sessionId.slice(0, 40))} is not a session id: it ${problem}` });
            continue;
        }
        issues.push(...accountIssues(account, ['accounts', sessionId], { allowTotp: true, requireFields: true }));
        if (account && typeof account === 'object') {
            for (const name of Object.keys(account)) {
                if (shared.has(name)) {
                    issues.push({
                        path: formatPath(['accounts', sessionId, name]),
                        message: `is also in credentials: a field comes from the recipe's credentials (shared by every account) or from the account, not both`,
                    });
                }
            }
        }
    }
    return issues;
}

/** A validated account (call {@link accountIssues} first). */
export function toAccount(input: AccountInput): Account {
    const fields: Record<string, CredentialSource> = {};
    for (const [name, value] of Object.entries(input)) {
        if (name !== TOTP_FIELD && value !== undefined) fields[name] = toCredentialSource(value as CredentialInput);
    }
    return Object.freeze({ fields: Object.freeze(fields), totp: input.totp ? toTotpSettings(input.totp) : undefined });
}

/** Validated accounts (call {@link accountsIssues} first). */
export function toAccountBook(input: AccountsInput): AccountBook {
    if (typeof input === 'function') return Object.freeze({ kind: 'function', resolve: input });
    const accounts = new Map(Object.entries(input).map(([sessionId, account]) => [sessionId, toAccount(account)]));
    return Object.freeze({ kind: 'record', accounts });
}

/** What {@link resolveAccount} reads of a recipe. */
export interface AccountRecipe {
    readonly name: string;
    /** The fields shared by every account (or the one account, without `accounts`). */
    readonly credentials: Readonly<Record<string, CredentialSource>>;
    /** The second factor of the one account, without `accounts`. */
    readonly totp: TotpSettings | undefined;
    readonly accounts: AccountBook | undefined;
    /** Credentials the recipe's steps use as `{{name}}`. */
    readonly credentialNames: readonly string[];
    /** Whether a step uses `{{totp}}`. */
    readonly usesTotp: boolean;
}

/** An account read for one login. */
export interface ResolvedAccount {
    /** Whose credentials these are, for messages: `account "bob"`, `the recipe's credentials`, … */
    readonly label: string;
    /** Every credential, read. Never log them. */
    readonly fields: Readonly<Record<string, string>>;
    /** The second factor, decoded; undefined when the account has none. */
    readonly totp: ResolvedTotp | undefined;
}

/**
 * Reads the account a session logs in with:
 *
 * 1. with `accounts`, the session's own account, on top of the recipe's `credentials` (the fields every account
 *    shares); a session without an account fails — it never falls back to another account or to the shared fields;
 * 2. without `accounts`, the recipe's `credentials`: the one account every session shares;
 * 3. then `override` (the `credentials` option of `loginRenewal`/`acquire`, the maintainer's per-recipe
 *    `credentials`): its fields replace those of the same name, its `totp` the account's.
 *
 * Every failure is a `credentials` {@link LoginError} naming the session or account and the field, raised before
 * any request is sent (a refusal: not retried).
 */
export async function resolveAccount(recipe: AccountRecipe, sessionId: string, override?: Account): Promise<ResolvedAccount> {
    const fail = (detail: string) => new LoginError('credentials', recipe.name, detail);
    const owners = new Map<string, string>();
    const sources: Record<string, CredentialSource> = {};
    const take = (fields: Readonly<Record<string, CredentialSource>>, owner: string) => {
        for (const [name, source] of Object.entries(fields)) {
            sources[name] = source;
            owners.set(name, owner);
        }
    };
    const sharedOwner = "the recipe's credentials";
    take(recipe.credentials, sharedOwner);

    let label = sharedOwner;
    let totp = recipe.totp;
    if (recipe.accounts) {
        const { account, owner } = await accountOf(recipe.accounts, sessionId, fail);
        for (const name of Object.keys(account.fields)) {
            if (owners.has(name)) {
                throw fail(`credential "${name}" is given both by the recipe's credentials and by ${owner}: a field comes from one of them`);
            }
        }
        take(account.fields, owner);
        label = owner;
        totp = account.totp;
    }
    if (override) {
        take(override.fields, 'the credentials given to the login');
        if (override.totp) totp = override.totp;
    }

    const missing = recipe.credentialNames.filter((name) => !(name in sources));
    if (missing.length) {
        throw fail(`${label} has no ${missing.map((name) => `"${name}"`).join(', ')}, which the recipe's steps use`);
    }
    if (recipe.usesTotp && !totp) throw fail(`${label} has no totp, and a step of the recipe uses {{totp}}`);

    const fields: Record<string, string> = {};
    for (const [name, source] of Object.entries(sources)) {
        fields[name] = await resolveCredential(source, { recipe: recipe.name, field: name, owner: owners.get(name)! });
    }
    return Object.freeze({
        label,
        fields: Object.freeze(fields),
        totp: totp ? await resolveTotp(totp, recipe.name, label) : undefined,
    });
}

async function accountOf(
    book: AccountBook,
    sessionId: string,
    fail: (detail: string) => LoginError,
): Promise<{ account: Account; owner: string }> {
    const never = 'a session logs in only with its own account';
    if (book.kind === 'record') {
        const account = book.accounts.get(sessionId);
        if (!account) {
            const names = [...book.accounts.keys()];
            const listed = names.slice(0, LISTED_ACCOUNTS).map((name) => JSON.stringify(name)).join(', ');
            const more = names.length > LISTED_ACCOUNTS ? ` and ${names.length - LISTED_ACCOUNTS} more` : '';
            throw fail(`session "${sessionId}" has no account (the recipe has accounts for ${listed}${more}); ${never}`);
        }
        return { account, owner: `account "${sessionId}"` };
    }
    const owner = `the account of session "${sessionId}"`;
    let input: unknown;
    try {
        input = await book.resolve(sessionId);
    } catch (error) {
        throw fail(`the recipe's accounts function threw for session "${sessionId}" (${describeCause(error)})`);
    }
    if (input === undefined || input === null) throw fail(`session "${sessionId}" has no account (the recipe's accounts function returned none); ${never}`);
    const issues = accountIssues(input, [], { allowTotp: true, requireFields: true });
    if (issues.length) {
        const described = issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ');
        throw fail(`the recipe's accounts function returned an unusable account for session "${sessionId}": ${described}`);
    }
    return { account: toAccount(input as AccountInput), owner };
}

/** `accounts.bob.password`, `accounts["bob smith"].password`. */
function formatPath(segments: readonly string[]): string {
    let path = '';
    for (const segment of segments) {
        if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) path += path ? `.${segment}` : segment;
        else path += `[${JSON.stringify(segment)}]`;
    }
    return path;
}
