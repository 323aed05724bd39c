/**
 * Accounts and second factors, against a staff site on loopback that has four accounts with TOTP, verifies the codes
 * itself (its own RFC 6238, ±1 step) and refuses a reused (account, step). Every assertion is on what the site saw:
 * which account each page was served to, which login requests arrived, which time steps were accepted.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { CheerioCrawler, Configuration, log } from 'crawlee';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { totpCodeAt } from '../src/acquisition/totp.js';
import { TOTP_STEPS_COLLECTION } from '../src/acquisition/totp-ledger.js';
import { runMaintainerCli } from '../src/maintainer/cli.js';
import {
    acquire,
    ConfigValidationError,
    defineLogin,
    defineMaintainerConfig,
    LoginError,
    loginCheck,
    loginRenewal,
    Maintainer,
    MemorySessionStore,
    SessionRenewalError,
    Sessions,
    withSessions,
    type AccountInput,
    type AccountsInput,
    type HttpLoginStep,
    type LoginRecipe,
    type LoginRecipeInput,
} from '../src/index.js';
import { decodeBase32, hotp, startAccountsSite, type AccountsSite, type SiteAccount } from './support/accounts-site.js';
import { mysqlForTests, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);

const mysqlDb = await mysqlForTests();

const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
type User = (typeof USERS)[number];

/** RFC 4648 base32 of random bytes: a fresh TOTP secret. */
function newSecret(bytes = 20): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0;
    let value = 0;
    let text = '';
    for (const byte of randomBytes(bytes)) {
        value = (value << 8) | byte;
        bits += 8;
        while (bits >= 5) {
            text += alphabet[(value >>> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) text += alphabet[(value << (5 - bits)) & 31];
    return text;
}

/**
 * The staff accounts as the site knows them. A short period makes every account log in several times within one
 * period, so that a client that replays codes is caught; each account uses other TOTP parameters.
 */
function staffAccounts(): Record<User, SiteAccount & { totp: NonNullable<SiteAccount['totp']> }> {
    return {
        alice: { password: `alice-${randomBytes(6).toString('hex')}`, totp: { secret: newSecret(), periodSecs: 2 } },
        bob: { password: `bob-${randomBytes(6).toString('hex')}`, totp: { secret: newSecret(32), periodSecs: 2, digits: 8, algorithm: 'SHA256' } },
        carol: { password: `carol-${randomBytes(6).toString('hex')}`, totp: { secret: newSecret(64), periodSecs: 2, digits: 7, algorithm: 'SHA512' } },
        dave: { password: `dave-${randomBytes(6).toString('hex')}`, totp: { secret: newSecret(10), periodSecs: 2 } },
    };
}

type Staff = ReturnType<typeof staffAccounts>;

let dir: string;
const sites: AccountsSite[] = [];
const envNames: string[] = [];

beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-accounts-'));
});
afterEach(async () => {
    await Promise.all(sites.splice(0).map((site) => site.close()));
    for (const name of envNames.splice(0)) delete process.env[name];
});
afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
});

async function site(accounts: Record<string, SiteAccount>, sessionLifetimeRequests?: number): Promise<AccountsSite> {
    const started = await startAccountsSite({ accounts, sessionLifetimeRequests });
    sites.push(started);
    return started;
}

function setEnv(name: string, value: string): { env: string } {
    process.env[name] = value;
    envNames.push(name);
    return { env: name };
}

async function secretFile(name: string, content: string): Promise<{ file: string }> {
    const path = join(dir, name);
    await writeFile(path, content, { mode: 0o600 });
    return { file: path };
}

/**
 * The client side of the staff accounts, each secret from another source: alice's literals, bob's environment
 * variables, carol's files (with the final newline `echo` leaves), dave's functions.
 */
async function clientAccounts(staff: Staff): Promise<Record<User, AccountInput>> {
    const tag = randomBytes(4).toString('hex');
    const { alice, bob, carol, dave } = staff;
    return {
        alice: { user: 'alice', password: alice.password, totp: { secret: alice.totp.secret.toLowerCase(), periodSecs: 2 } },
        bob: {
            user: 'bob',
            password: setEnv(`BOB_PASSWORD_${tag}`, bob.password),
            totp: { secret: setEnv(`BOB_TOTP_${tag}`, bob.totp.secret), periodSecs: 2, digits: 8, algorithm: 'SHA256' },
        },
        carol: {
            user: 'carol',
            password: await secretFile(`carol-password-${tag}`, `${carol.password}\n`),
            totp: { secret: await secretFile(`carol-totp-${tag}`, `${carol.totp.secret}\n`), periodSecs: 2, digits: 7, algorithm: 'sha512' as 'SHA512' },
        },
        dave: { user: () => 'dave', password: async () => dave.password, totp: { secret: () => dave.totp.secret, periodSecs: 2 } },
    };
}

/** The site's login: the form with its CSRF token, then the second factor. */
function staffRecipe(site: AccountsSite, accounts: AccountsInput | undefined, overrides: Partial<LoginRecipeInput> = {}): LoginRecipe {
    return defineLogin({
        name: 'staff',
        ...(accounts ? { accounts } : {}),
        steps: [
            { url: `${site.url}/login`, extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
            { url: `${site.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
            { url: `${site.url}/login/otp`, method: 'POST', form: { code: '{{totp}}' } },
        ],
        check: { indicators: [{ in: 'body', text: 'Please sign in', means: 'invalid' }] },
        ...overrides,
    } as LoginRecipeInput);
}

/** The same login without a second factor. */
function passwordRecipe(site: AccountsSite, input: Partial<LoginRecipeInput>): LoginRecipe {
    return defineLogin({
        name: 'staff',
        steps: [
            { url: `${site.url}/login`, extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
            { url: `${site.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
        ],
        check: { indicators: [{ in: 'body', text: 'Please sign in', means: 'invalid' }] },
        ...input,
    } as LoginRecipeInput);
}

/** Crawls `/page/<session>/<n>` for every session; returns what the handlers saw and the failures. */
async function crawl(sessions: Sessions, siteUrl: string, plan: Record<string, number>, settings: Parameters<typeof withSessions>[2]) {
    const seen: Array<{ sessionId: string; user: string }> = [];
    const failed: string[] = [];
    const crawler = new CheerioCrawler(
        withSessions(
            sessions,
            {
                maxConcurrency: 8,
                maxRequestRetries: 0,
                async requestHandler({ request, $ }) {
                    seen.push({ sessionId: request.userData.sessionId as string, user: $('#user').text() });
                },
                failedRequestHandler({ request }, error) {
                    failed.push(`${request.userData.sessionId}: ${error.message}`);
                },
            },
            settings,
        ),
        new Configuration({ persistStorage: false, purgeOnStart: true }),
    );
    const requests = Object.entries(plan).flatMap(([sessionId, count]) =>
        Array.from({ length: count }, (_, n) => ({ url: `${siteUrl}/page/${encodeURIComponent(sessionId)}/${n}`, userData: { sessionId } })),
    );
    await crawler.run(requests);
    return { seen, failed };
}

/** Pages the site served logged in to another account than the one they were meant for. */
function wrongAccountPages(site: AccountsSite) {
    return site.pages.filter((page) => page.servedTo !== null && page.servedTo !== page.intendedFor);
}

/** Every accepted code's time step appears once per account (the site's own record). */
function expectNoReplay(site: AccountsSite): void {
    expect(site.replays).toBe(0);
    expect(site.wrongCodes).toBe(0);
    for (const steps of Object.values(site.acceptedSteps)) expect(new Set(steps).size).toBe(steps.length);
}

async function refusal(work: () => Promise<unknown>): Promise<LoginError> {
    try {
        await work();
    } catch (error) {
        expect(error).toBeInstanceOf(LoginError);
        return error as LoginError;
    }
    throw new Error('the login succeeded');
}

function definitionError(input: Partial<LoginRecipeInput>): string {
    try {
        defineLogin({ name: 'staff', steps: [{ url: 'http://staff.test/login' }], ...input } as LoginRecipeInput);
    } catch (error) {
        expect(error).toBeInstanceOf(ConfigValidationError);
        return (error as Error).message;
    }
    throw new Error('the recipe was accepted');
}

describe('the test site verifies TOTP codes itself', () => {
    it('computes RFC 6238 Appendix B codes, and agrees with the codes the package sends', () => {
        const sha1 = Buffer.from('12345678901234567890');
        const sha256 = Buffer.from('12345678901234567890123456789012');
        const sha512 = Buffer.from('1234567890123456789012345678901234567890123456789012345678901234');
        // T = floor(time / 30): 59 s → 1, 1111111109 s → 37037036.
        expect(hotp(sha1, 1, 8, 'SHA1')).toBe('94287082');
        expect(hotp(sha256, 1, 8, 'SHA256')).toBe('46119246');
        expect(hotp(sha512, 1, 8, 'SHA512')).toBe('90693936');
        expect(hotp(sha1, 37037036, 8, 'SHA1')).toBe('07081804');
        expect(hotp(sha256, 37037036, 8, 'SHA256')).toBe('68084774');
        expect(hotp(sha512, 37037036, 8, 'SHA512')).toBe('25091201');
        const secret = newSecret(32);
        const totp = { key: 'k', secret, digits: 8, periodSecs: 30, algorithm: 'SHA256' as const };
        expect(totpCodeAt(totp, 123_456)).toBe(hotp(decodeBase32(secret), 123_456, 8, 'SHA256'));
    });
});

describe('every session logs in as its own account', () => {
    it('through withSessions(…, { check: loginCheck(recipe) }): each page served to its own account, no TOTP code used twice', async () => {
        const staff = staffAccounts();
        // Each login serves 4 pages: 12 pages are 3 logins per account, all within a few TOTP periods.
        const app = await site(staff, 4);
        const recipe = staffRecipe(app, await clientAccounts(staff));
        const sessions = await Sessions.open({ store: 'memory', login: loginRenewal(recipe) });
        const { seen, failed } = await crawl(sessions, app.url, Object.fromEntries(USERS.map((user) => [user, 12])), { check: loginCheck(recipe) });

        expect(failed).toEqual([]);
        expect(seen).toHaveLength(48);
        expect(seen.filter((page) => page.user !== page.sessionId)).toEqual([]);
        expect(wrongAccountPages(app)).toEqual([]);
        expect(app.pages.filter((page) => page.servedTo !== null)).toHaveLength(48);
        for (const user of USERS) {
            expect(app.loginsByUser[user]).toBe(3);
            expect(app.loginPostsByUser[user]).toBe(3);
            expect(app.acceptedSteps[user]).toHaveLength(3);
        }
        expect(Object.keys(app.loginPostsByUser).sort()).toEqual([...USERS].sort());
        expectNoReplay(app);

        // sessions.renew goes through carol's own account, and waits for a period her last code did not use.
        await sessions.renew('carol');
        expect(app.loginsByUser.carol).toBe(4);
        expect(app.loginPostsByUser.alice).toBe(3);
        expectNoReplay(app);
        await sessions.close();
    }, 60_000);

    it('a session without an account fails with a clear error, and the site sees no login request for it', async () => {
        const staff = staffAccounts();
        const app = await site(staff);
        const accounts = await clientAccounts(staff);
        for (const recipe of [staffRecipe(app, accounts), staffRecipe(app, (id: string) => (Object.hasOwn(accounts, id) ? accounts[id as User] : undefined))]) {
            const sessions = await Sessions.open({ store: 'memory', login: loginRenewal(recipe) });
            const { seen, failed } = await crawl(sessions, app.url, { eve: 3 }, { check: loginCheck(recipe) });
            expect(seen).toEqual([]);
            expect(failed).toHaveLength(3);
            for (const message of failed) expect(message).toMatch(/Login "staff" failed \(credentials\): session "eve" has no account/);
            expect(failed[0]).toMatch(recipe.accounts?.kind === 'record' ? /accounts for "alice", "bob", "carol", "dave"/ : /accounts function returned none/);

            const error = await sessions.renew('eve').then(
                () => undefined,
                (caught: unknown) => caught,
            );
            expect(error).toBeInstanceOf(SessionRenewalError);
            // A refusal: not retried.
            expect((error as SessionRenewalError).attempts).toBe(1);
            expect((error as SessionRenewalError).cause).toBeInstanceOf(LoginError);
            expect(((error as SessionRenewalError).cause as LoginError).kind).toBe('credentials');
            await sessions.close();
        }
        expect(app.loginRequests).toBe(0);
        expect(app.pages.every((page) => page.servedTo === null)).toBe(true);
    });

    it('the reported bug: one recipe whose credentials are alice’s, loginFor per user, loginCheck(recipe) — bob is never logged in as alice', async () => {
        const passwords = Object.fromEntries(USERS.map((user) => [user, `${user}-${randomBytes(6).toString('hex')}`])) as Record<User, string>;
        const app = await site(Object.fromEntries(USERS.map((user) => [user, { password: passwords[user] }])), 4);
        const recipe = passwordRecipe(app, { credentials: { user: 'alice', password: passwords.alice } });
        const sessions = await Sessions.open({
            store: 'memory',
            loginFor: (id) => (Object.hasOwn(passwords, id) ? loginRenewal(recipe, { credentials: { user: id, password: passwords[id as User] } }) : undefined),
        });
        const { seen, failed } = await crawl(sessions, app.url, Object.fromEntries(USERS.map((user) => [user, 8])), { check: loginCheck(recipe) });

        expect(failed).toEqual([]);
        expect(wrongAccountPages(app)).toEqual([]);
        expect(seen.filter((page) => page.user !== page.sessionId)).toEqual([]);
        for (const user of USERS) expect(app.loginsByUser[user]).toBe(2);
        await sessions.close();
    });

    it('two sessions sharing one account never send the same code, even logging in at the same moment', async () => {
        const staff = staffAccounts();
        const app = await site(staff);
        const accounts = await clientAccounts(staff);
        // One account for two sessions: allowed through an accounts function (or a recipe's shared credentials).
        const recipe = staffRecipe(app, (id: string) => (id.startsWith('alice-') ? accounts.alice : undefined));
        const sessions = await Sessions.open({ store: 'memory', login: loginRenewal(recipe) });
        await Promise.all([sessions.renew('alice-1'), sessions.renew('alice-2')]);
        await Promise.all([sessions.renew('alice-1'), sessions.renew('alice-2')]);
        expect(app.loginsByUser.alice).toBe(4);
        expect(app.acceptedSteps.alice).toHaveLength(4);
        expectNoReplay(app);
        await sessions.close();
    }, 30_000);
});

describe('the maintainer', () => {
    it('{ recipe, sessions: [...] } keeps each session logged in as its own account; crawlers read them as they are', async () => {
        const staff = staffAccounts();
        const app = await site(staff);
        const recipe = staffRecipe(app, await clientAccounts(staff), {
            check: { request: { url: `${app.url}/whoami` }, indicators: [{ in: 'body', text: 'logged-in as', means: 'valid' }] },
        });
        const store = new MemorySessionStore();
        const maintainer = await Maintainer.open({
            store,
            recipes: [{ recipe, sessions: [...USERS], schedule: { kind: 'once' }, refresh: 'always' }],
            retry: { maxAttempts: 1 },
        });
        try {
            // Twice: every account logs in again at once, within the period of its first code.
            await maintainer.runNow();
            await maintainer.runNow();
        } finally {
            await maintainer.stop();
        }
        expect(maintainer.status().map((row) => [row.session, row.state, row.lastError])).toEqual(USERS.map((user) => [user, 'refreshed', null]));
        for (const user of USERS) {
            const record = await store.read(user);
            const sid = record?.cookies.find((cookie) => cookie.key === 'sid')?.value;
            expect(app.userOfSid(sid!)).toBe(user);
            expect(app.loginsByUser[user]).toBe(2);
        }
        expectNoReplay(app);
        // The last used step of each account is in the store, for other processes.
        const recorded = (await store.listEntries<{ step: number }>(TOTP_STEPS_COLLECTION)).map((entry) => entry.value.step).sort();
        expect(recorded).toEqual(USERS.map((user) => app.acceptedSteps[user]!.at(-1)!).sort());

        const loginsBefore = app.loginRequests;
        const sessions = await Sessions.open({ store });
        const { seen, failed } = await crawl(sessions, app.url, Object.fromEntries(USERS.map((user) => [user, 3])), {});
        await sessions.close();
        expect(failed).toEqual([]);
        expect(seen).toHaveLength(12);
        expect(wrongAccountPages(app)).toEqual([]);
        expect(app.pages.every((page) => page.servedTo === page.intendedFor)).toBe(true);
        expect(app.loginRequests).toBe(loginsBefore);
    }, 60_000);

    it('a second process sharing the store never replays the code the first one sent', async () => {
        const staff = staffAccounts();
        const app = await site(staff);
        const recipe = staffRecipe(app, await clientAccounts(staff));
        const store = new MemorySessionStore();
        const ledger = (globalThis as Record<symbol, { nextFreeAt: Map<string, number> }>)[Symbol.for('crawlee-sessions.totp-ledger')]!;
        for (const user of USERS) {
            await acquire(recipe, { sessionId: user, store });
            // What a process that starts now knows of the codes used: nothing but the store.
            ledger.nextFreeAt.clear();
            await acquire(recipe, { sessionId: user, store });
            ledger.nextFreeAt.clear();
        }
        for (const user of USERS) expect(app.acceptedSteps[user]).toHaveLength(2);
        expectNoReplay(app);
    }, 60_000);

    it('without a store, one process still never sends a code twice', async () => {
        const staff = staffAccounts();
        const app = await site(staff);
        const recipe = staffRecipe(app, await clientAccounts(staff));
        for (const user of USERS) {
            await acquire(recipe, { sessionId: user });
            await acquire(recipe, { sessionId: user });
        }
        for (const user of USERS) expect(app.acceptedSteps[user]).toHaveLength(2);
        expectNoReplay(app);
    }, 60_000);

    it('refuses a listed session that has no account in the recipe', () => {
        const recipe = staffRecipe({ url: 'http://staff.test' } as AccountsSite, { alice: { user: 'alice', password: 'pw', totp: { secret: newSecret() } } });
        expect(() => defineMaintainerConfig({ recipes: [{ recipe, sessions: ['alice', 'eve'], schedule: { kind: 'once' } }] })).toThrow(
            'Invalid config: config.recipes[0].sessions[1]: session "eve" has no account in recipe "staff": a session logs in only with its own account',
        );
        expect(() => defineMaintainerConfig({ recipes: [{ recipe, schedule: { kind: 'once' } }] })).toThrow(
            /config\.recipes\[0\]\.sessions: session "staff" has no account/,
        );
    });

    it('crawlee-sessions maintain --once logs each session of a config file in as its own account', async () => {
        const staff = staffAccounts();
        const app = await site(staff);
        const tag = randomBytes(4).toString('hex');
        for (const user of USERS) {
            setEnv(`CLI_${user.toUpperCase()}_PASSWORD_${tag}`, staff[user].password);
            await secretFile(`cli-${user}-totp-${tag}`, `${staff[user].totp.secret}\n`);
        }
        const root = resolve(import.meta.dirname, '..');
        const configPath = join(dir, `sessions-${tag}.config.ts`);
        const totpOf = (user: User) => {
            const { digits, algorithm } = staff[user].totp;
            return `{ secret: { file: ${JSON.stringify(join(dir, `cli-${user}-totp-${tag}`))} }, periodSecs: 2${digits ? `, digits: ${digits}` : ''}${algorithm ? `, algorithm: '${algorithm}'` : ''} }`;
        };
        await writeFile(
            configPath,
            `import { defineLogin } from ${JSON.stringify(join(root, 'src/acquisition/recipe.ts'))};
import { defineMaintainerConfig } from ${JSON.stringify(join(root, 'src/maintainer/config.ts'))};
const recipe = defineLogin({
    name: 'staff',
    accounts: {
${USERS.map((user) => `        ${user}: { user: '${user}', password: { env: 'CLI_${user.toUpperCase()}_PASSWORD_${tag}' }, totp: ${totpOf(user)} },`).join('\n')}
    },
    steps: [
        { url: '${app.url}/login', extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
        { url: '${app.url}/login', method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
        { url: '${app.url}/login/otp', method: 'POST', form: { code: '{{totp}}' } },
    ],
    check: { request: { url: '${app.url}/whoami' }, indicators: [{ in: 'body', text: 'logged-in as', means: 'valid' }] },
});
export default defineMaintainerConfig({
    store: (globalThis as any).__accountsTestStore,
    recipes: [{ recipe, sessions: ${JSON.stringify(USERS)}, schedule: { kind: 'once' } }],
});
`,
        );
        const store = new MemorySessionStore();
        (globalThis as Record<string, unknown>).__accountsTestStore = store;
        const output: string[] = [];
        const io = { stdout: (text: string) => output.push(text), stderr: (text: string) => output.push(text), handleSignals: false };
        try {
            expect(await runMaintainerCli(['maintain', '--config', configPath, '--once'], io)).toBe(0);
        } finally {
            delete (globalThis as Record<string, unknown>).__accountsTestStore;
        }
        for (const user of USERS) {
            const sid = (await store.read(user))?.cookies.find((cookie) => cookie.key === 'sid')?.value;
            expect(app.userOfSid(sid!)).toBe(user);
        }
        expectNoReplay(app);
        const printed = output.join('');
        for (const user of USERS) {
            expect(printed).not.toContain(staff[user].password);
            expect(printed).not.toContain(staff[user].totp.secret);
        }
    }, 60_000);
});

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('a maintainer process and a crawler process on one MySQL store'), () => {
    const newPrefix = useTablePrefixes();

    it('the crawler never replays the TOTP code the maintainer process just sent for the same account', async () => {
        const secret = newSecret();
        const password = `alice-${randomBytes(6).toString('hex')}`;
        // A long period: the crawler's login below comes within the period of the maintainer's code.
        const app = await site({ alice: { password, totp: { secret, periodSecs: 15 } } });
        const prefix = newPrefix();
        const store = { mysql: { url: mysqlDb.url, tablePrefix: prefix } };
        const root = resolve(import.meta.dirname, '..');
        const tag = randomBytes(4).toString('hex');
        const configPath = join(dir, `mysql-${tag}.config.ts`);
        const steps = `[
        { url: '${app.url}/login', extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
        { url: '${app.url}/login', method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
        { url: '${app.url}/login/otp', method: 'POST', form: { code: '{{totp}}' } },
    ]`;
        await writeFile(
            configPath,
            `import { defineLogin } from ${JSON.stringify(join(root, 'src/acquisition/recipe.ts'))};
import { defineMaintainerConfig } from ${JSON.stringify(join(root, 'src/maintainer/config.ts'))};
export default defineMaintainerConfig({
    store: ${JSON.stringify(store)},
    recipes: [{
        recipe: defineLogin({
            name: 'staff',
            accounts: { alice: { user: 'alice', password: { env: 'ACCOUNTS_TEST_PASSWORD' }, totp: { secret: { env: 'ACCOUNTS_TEST_TOTP' }, periodSecs: 15 } } },
            steps: ${steps},
        }),
        sessions: ['alice'],
        schedule: { kind: 'once' },
    }],
});
`,
        );
        const runner = join(dir, `cli-${tag}.mts`);
        await writeFile(runner, `import { runMaintainerCli } from ${JSON.stringify(join(root, 'src/maintainer/cli.ts'))};\nprocess.exitCode = await runMaintainerCli(process.argv.slice(2));\n`);
        const child = spawn(process.execPath, ['--import', 'tsx', runner, 'maintain', '--config', configPath, '--once'], {
            cwd: root,
            env: { ...process.env, ACCOUNTS_TEST_PASSWORD: password, ACCOUNTS_TEST_TOTP: secret, CRAWLEE_STORAGE_DIR: join(dir, `storage-${tag}`) },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const code = await new Promise<number | null>((done) => child.on('exit', done));
        expect(code, output).toBe(0);
        expect(app.acceptedSteps.alice).toHaveLength(1);

        // This process has never seen alice's authenticator: only the store can tell it which step was used.
        const recipe = staffRecipe(app, { alice: { user: 'alice', password, totp: { secret, periodSecs: 15 } } });
        const sessions = await Sessions.open({ store, login: loginRenewal(recipe) });
        try {
            await sessions.renew('alice');
        } finally {
            await sessions.close();
        }
        expect(app.acceptedSteps.alice).toHaveLength(2);
        expectNoReplay(app);
        expect(output).not.toContain(password);
        expect(output).not.toContain(secret);
    }, 90_000);
});

describe('browser logins', () => {
    it('a scripted browser login types each account’s own credentials and a fresh credentials.totp() code', async () => {
        const staff = staffAccounts();
        // A longer period for alice: her two logins below ask for a code at about the same moment.
        staff.alice.totp.periodSecs = 10;
        const app = await site(staff);
        const accounts = await clientAccounts(staff);
        const alice = { user: 'alice', password: staff.alice.password, totp: { secret: staff.alice.totp.secret, periodSecs: 10 } };
        const recipe = defineLogin({
            name: 'staff-browser',
            accounts: { alice, bob: accounts.bob, dave: { user: 'dave', password: staff.dave.password } },
            startUrl: `${app.url}/login`,
            async login({ page, credentials }) {
                await page.fill('#user', credentials.user);
                await page.fill('#password', credentials.password);
                await page.click('#go');
                await page.waitForURL('**/login/otp');
                await page.fill('#code', await credentials.totp());
                await page.click('#verify');
                await page.waitForURL('**/welcome');
            },
            check: { request: { url: `${app.url}/whoami` }, indicators: [{ in: 'body', text: 'logged-in as', means: 'valid' }] },
            browser: { timeoutSecs: 30 },
        });
        // Two logins of alice at once (and bob's): one of hers waits for a period the other's code did not use.
        const users = ['alice', 'bob', 'alice'];
        const sessions = await Promise.all(users.map((user) => acquire(recipe, { sessionId: user })));
        sessions.forEach((session, index) => {
            const sid = session.cookies.find((cookie) => cookie.key === 'sid')?.value;
            expect(app.userOfSid(sid!)).toBe(users[index]);
        });
        expect(app.acceptedSteps.alice).toHaveLength(2);
        expect(app.acceptedSteps.bob).toHaveLength(1);
        expectNoReplay(app);

        // dave's account has no second factor: the login function asking for a code fails with a clear error.
        const error = await refusal(() => acquire(recipe, { sessionId: 'dave' }));
        expect(error.message).toBe('Login "staff-browser" failed (credentials): the login function asked for a TOTP code, but account "dave" has no totp');
        expect(app.loginPostsByUser.dave).toBe(1);
        expect(app.loginsByUser.dave).toBeUndefined();
    }, 90_000);
});

describe('accounts refused with the field named, never a secret', () => {
    const SECRET = newSecret();

    it('refuses bad accounts, second factors and ambiguous combinations when the recipe is defined', () => {
        const steps3: HttpLoginStep[] = [
            { url: 'http://staff.test/login', method: 'POST', form: { user: '{{user}}', password: '{{password}}' } },
            { url: 'http://staff.test/login/otp', method: 'POST', form: { code: '{{totp}}' } },
        ];
        const base = { user: 'alice', password: 'pw-Alice-1' };
        const cases: Array<[Partial<LoginRecipeInput>, string]> = [
            [{ accounts: { alice: { ...base, totp: { secret: 'NOT-BASE32-1!!' } } }, steps: steps3 }, 'recipe.accounts.alice.totp.secret: is not base32'],
            [{ accounts: { alice: { ...base, totp: { secret: 'JBSWY3DP' } } }, steps: steps3 }, 'recipe.accounts.alice.totp.secret: is too short'],
            [{ accounts: { alice: { ...base, totp: { secret: `${SECRET}A` } } }, steps: steps3 }, 'recipe.accounts.alice.totp.secret: is not valid base32'],
            [{ accounts: { alice: { ...base, totp: { secret: SECRET, digits: 9 } } }, steps: steps3 }, 'recipe.accounts.alice.totp.digits: must be a whole number from 6 to 8'],
            [{ accounts: { alice: { ...base, totp: { secret: SECRET, periodSecs: 0 } } }, steps: steps3 }, 'recipe.accounts.alice.totp.periodSecs: must be a whole number'],
            [{ accounts: { alice: { ...base, totp: { secret: SECRET, algorithm: 'MD5' as 'SHA1' } } }, steps: steps3 }, 'recipe.accounts.alice.totp.algorithm: must be one of SHA1, SHA256, SHA512'],
            [{ accounts: { alice: { ...base, totp: { secret: SECRET, period: 30 } as never } }, steps: steps3 }, 'recipe.accounts.alice.totp: has unknown key "period"'],
            [{ accounts: { alice: { ...base, totp: SECRET as never } }, steps: steps3 }, 'recipe.accounts.alice.totp: must be { secret, digits?, periodSecs?, algorithm? }'],
            [{ accounts: { alice: { ...base, totp: {} as never } }, steps: steps3 }, 'recipe.accounts.alice.totp.secret: is required'],
            [{ accounts: { bob: { user: 'bob', password: 987_654_321 as never } } }, 'recipe.accounts.bob.password: must be a non-empty string'],
            [{ accounts: { bob: { user: 'bob', password: { env: 'lower-case-not' } } } }, 'recipe.accounts.bob.password: env must name an environment variable'],
            [{ accounts: { bob: { user: 'bob', password: { file: '' } } } }, 'recipe.accounts.bob.password: file must be a non-empty path'],
            [{ accounts: { bob: {} } }, 'recipe.accounts.bob: needs at least one credential'],
            [{ accounts: {} }, 'recipe.accounts: needs at least one account'],
            [{ accounts: [] as never }, 'recipe.accounts: must be an object of session id → account'],
            [{ accounts: { '': base } }, 'recipe.accounts: "" is not a session id'],
            [{ credentials: { user: 'alice' }, accounts: { alice: base } }, 'recipe.accounts.alice.user: is also in credentials'],
            [{ credentials: { tenant: 't1', totp: { secret: SECRET } }, accounts: { alice: base } }, 'recipe.credentials.totp: a second factor belongs to one account'],
            [
                { accounts: { alice: base, bob: { user: 'bob' } }, steps: steps3.slice(0, 1) },
                'recipe.accounts.bob: has no "password", which steps[0].form.password uses',
            ],
            [{ accounts: { alice: base }, steps: steps3 }, 'recipe.steps[1].form.code: uses {{totp}}, the second factor\'s code, but no account has a totp'],
            [
                { accounts: { alice: { ...base, totp: { secret: SECRET } }, bob: { user: 'bob', password: 'pw-Bob-2' } }, steps: steps3 },
                'recipe.accounts.bob: has no totp, which steps[1].form.code uses',
            ],
            [{ accounts: { alice: { ...base, totp: { secret: SECRET } } }, steps: steps3.slice(0, 1) }, 'recipe.accounts.alice.totp: is never sent: no step uses {{totp}}'],
            [
                { accounts: { alice: base }, steps: [{ url: 'http://staff.test/login', extract: [{ name: 'totp', from: { formField: 'code' } }] }] },
                'recipe.steps[0].extract[0].name: "totp" is the second factor\'s code',
            ],
            [
                { accounts: { alice: { ...base, totp: { secret: SECRET } } }, steps: steps3, apply: { headers: { 'X-Code': '{{totp}}' } } },
                'recipe.apply.headers["X-Code"]: uses the credential {{totp}}',
            ],
        ];
        for (const [input, expected] of cases) {
            const message = definitionError(input);
            expect(message).toContain(expected);
            for (const secret of [SECRET, 'NOT-BASE32-1!!', 'JBSWY3DP', '987654321', 'pw-Alice-1', 'pw-Bob-2']) expect(message).not.toContain(secret);
        }
        expect(() => loginRenewal(passwordRecipe({ url: 'http://staff.test' } as AccountsSite, { credentials: { user: 'a', password: 'b' } }), {
            credentials: { password: 42 as never },
        })).toThrow('Invalid login options: login options.credentials.password: must be a non-empty string');
    });

    it('fails a login whose secrets cannot be read, naming the account and the field, before any request', async () => {
        const staff = staffAccounts();
        const app = await site(staff);
        const tag = randomBytes(4).toString('hex');
        await mkdir(join(dir, `a-directory-${tag}`));
        const alice = { user: 'alice', password: staff.alice.password };
        const totp = { secret: staff.alice.totp.secret, periodSecs: 2 };
        const badSecret = 'SECRET-not-base32-Z9Z9Z9Z9Z9';
        const cases: Array<[AccountsInput, RegExp, string?]> = [
            [{ alice: { ...alice, password: { env: `UNSET_PASSWORD_${tag}` }, totp } }, new RegExp(`credential "password" of account "alice" comes from the environment variable UNSET_PASSWORD_${tag}, which is not set`)],
            [{ alice: { ...alice, password: { file: join(dir, `missing-${tag}`) }, totp } }, /credential "password" of account "alice" comes from the file .*missing-.*, which cannot be read \(no such file\)/],
            [{ alice: { ...alice, password: { file: join(dir, `a-directory-${tag}`) }, totp } }, /credential "password" of account "alice" comes from the file .*, which cannot be read \(not a regular file\)/],
            [{ alice: { ...alice, password: await secretFile(`empty-${tag}`, '\n'), totp } }, /credential "password" of account "alice" comes from the file .*, which is empty/],
            [{ alice: { ...alice, totp: { secret: setEnv(`BAD_TOTP_${tag}`, badSecret) } } }, /credential "totp.secret" of account "alice" is not base32/, badSecret],
            [{ alice: { ...alice, password: () => 42 as never, totp } }, /credential "password" of account "alice" could not be computed: its function returned number/],
            [{ alice: { ...alice, password: () => { throw new Error('vault unreachable'); }, totp } }, /credential "password" of account "alice" could not be computed: its function threw \(vault unreachable\)/],
            [() => { throw new Error('directory offline'); }, /the recipe's accounts function threw for session "alice" \(directory offline\)/],
            [() => 42 as never, /returned an unusable account for session "alice": must be an object/],
            [() => ({ user: 'alice', password: 987_654_321 as never, totp }), /returned an unusable account for session "alice": password: must be a non-empty string/, '987654321'],
            [() => ({ user: 'alice', totp }), /the account of session "alice" has no "password", which the recipe's steps use/],
            [() => ({ user: 'alice', password: staff.alice.password }), /the account of session "alice" has no totp, and a step of the recipe uses \{\{totp\}\}/],
        ];
        for (const [accounts, expected, secret] of cases) {
            const error = await refusal(() => acquire(staffRecipe(app, accounts), { sessionId: 'alice' }));
            expect(error.kind).toBe('credentials');
            expect(error.refused).toBe(true);
            expect(error.message).toMatch(/^Login "staff" failed \(credentials\): /);
            expect(error.message).toMatch(expected);
            for (const value of [staff.alice.password, staff.alice.totp.secret, ...(secret ? [secret] : [])]) expect(error.message).not.toContain(value);
        }
        // A field both shared and returned by the function is ambiguous.
        const shared = staffRecipe(app, () => ({ user: 'alice', password: staff.alice.password, totp }), { credentials: { user: 'alice' } });
        expect((await refusal(() => acquire(shared, { sessionId: 'alice' }))).message).toMatch(
            /credential "user" is given both by the recipe's credentials and by the account of session "alice"/,
        );
        // acquire() without a session id has none of the accounts.
        expect((await refusal(() => acquire(staffRecipe(app, { alice: { ...alice, totp } })))).message).toMatch(/session "staff" has no account/);
        expect(app.loginRequests).toBe(0);
    });
});
