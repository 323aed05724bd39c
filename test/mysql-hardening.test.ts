/**
 * The MySQL store under hostile input and faults (issue 12): values that would become SQL under client-side
 * escaping, keys that a PAD SPACE or case-insensitive collation would merge, lone surrogates, the migration that
 * made keys exact, rows the server can never take (one of them must not sink its batch), and idle connections.
 *
 * The input suite runs twice: on the shared MariaDB, and on a private one started with NO_BACKSLASH_ESCAPES (the
 * mode in which a cookie value used to rewrite another session's row) and a 1 MiB max_allowed_packet (for the
 * 4 400-cookie session that used to block its batch).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { MySqlSessionStore, type MySqlStoreOptions } from '../src/stores/mysql-store.js';
import { LATEST_SCHEMA_VERSION } from '../src/stores/mysql-schema.js';
import { StoreWriteRejectedError, type SessionAuth, type SessionDelta, type StoredCookie } from '../src/model/types.js';
import { SessionIdError } from '../src/shared/ids.js';
import { ConfigValidationError } from '../src/shared/validation.js';
import {
    mysqlForTests,
    mysqlQuery,
    mysqlQueryAt,
    startTcpRelay,
    uniqueTablePrefix,
    useTablePrefixes,
    type TcpRelay,
} from './support/mysql.js';
import { canRunPrivateMariaDb, startPrivateMariaDb, type PrivateMariaDb } from './support/private-mariadb.js';

const shared = await mysqlForTests();

const PRIVATE_MAX_ALLOWED_PACKET = 1024 * 1024;

function cookie(key: string, value: string, domain = 'example.com'): StoredCookie {
    return { key, value, domain, path: '/', hostOnly: true };
}

function delta(id: string, changes: Partial<SessionDelta> = {}): SessionDelta {
    return {
        id,
        generation: 0,
        reset: false,
        assignment: { profileIndex: null, identity: null, auth: null },
        upserts: [],
        removals: [],
        counters: { requests: 0, successes: 0, failures: 0, renewals: 0 },
        lastUsedAt: null,
        ...changes,
    };
}

const oneRequest = { requests: 1, successes: 1, failures: 0, renewals: 0 };

const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex').toUpperCase();

/** Input chosen to break SQL built as text: quotes, backslashes, comments, NUL, 4-byte UTF-8, a trailing backslash. */
const PAYLOADS: readonly string[] = [
    `'`,
    `"`,
    `\\`,
    `\\'`,
    `''`,
    `'); UPDATE sessions SET cookies = '[]' --`,
    `"; DROP TABLE x; -- `,
    `\u0000`,
    `nul\u0000inside`,
    `😀`,
    `𝄞𠜎🏳️‍🌈`,
    `lone backslash at the end\\`,
    `\\\\'\\"\\0\\n\\Z`,
    `%_*?`,
    `tab\tcr\rlf\nctrl-z\u001a`,
    `/* comment */ -- # `,
    `0x27`,
    ` leading and trailing spaces `,
    `\u202eright-to-left`,
];

/**
 * A cookie value that, in the store's old client-side escaping (`\'` for a quote) on a server with
 * NO_BACKSLASH_ESCAPES (where `\` is an ordinary character), closes its string and the row, and appends an upsert
 * that replaces the cookies of session `victim` (hex literals: no quote needed). Checked against the old code:
 * the victim's row was rewritten.
 */
function rowRewritingPayload(tablePrefix: string): string {
    const toHex = (text: string) => `0x${Buffer.from(text).toString('hex')}`;
    const planted = JSON.stringify([cookie('sid', 'PLANTED-BY-ATTACKER')]);
    return (
        `', NULL, 0, 0, 0, 0, NULL, NULL, LAST_INSERT_ID(), 0) ON DUPLICATE KEY UPDATE lease_only = 0; ` +
        `INSERT INTO \`${tablePrefix}_sessions\` (id, lease_only, generation, profile_index, identity, cookies, auth, requests, ` +
        `successes, failures, renewals, last_used_at, last_renewal_error, revision, updated_at) ` +
        `VALUES (${toHex('victim')}, 0, 0, NULL, NULL, ${toHex(planted)}, NULL, 0, 0, 0, 0, NULL, NULL, LAST_INSERT_ID(), 0) -- `
    );
}

interface Server {
    url: string;
    newPrefix(): string;
}

/** Opens stores on a server; closes them after each test. */
function useStores(server: () => Server) {
    const stores: MySqlSessionStore[] = [];
    afterEach(async () => {
        for (const store of stores.splice(0)) await store.close();
    });
    return async (options: Partial<MySqlStoreOptions> & { tablePrefix: string }): Promise<MySqlSessionStore> => {
        const store = await MySqlSessionStore.open({ url: server().url, ...options });
        stores.push(store);
        return store;
    };
}

/** What `write()` threw, which must be a {@link StoreWriteRejectedError}. */
async function rejectionOf(promise: Promise<unknown>): Promise<StoreWriteRejectedError> {
    const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreWriteRejectedError);
    return error as StoreWriteRejectedError;
}

/** The tests of hostile input and refused rows, on one server. */
function inputSuite(server: () => Server): void {
    const open = useStores(server);
    const raw = (sql: string, values?: Array<string | number | null>) => mysqlQueryAt(server().url, sql, values);

    it('keeps a cookie value crafted to rewrite another session under client-side escaping a cookie value', async () => {
        const tablePrefix = server().newPrefix();
        const store = await open({ tablePrefix });
        await store.write([delta('victim', { upserts: [cookie('sid', 'victim-secret')], counters: oneRequest })]);
        const victimRow = await raw(`SELECT * FROM \`${tablePrefix}_sessions\` WHERE id = ?`, ['victim']);

        const payload = rowRewritingPayload(tablePrefix);
        const [written] = await store.write([delta('attacker', { upserts: [cookie('sid', payload)] })]);
        expect(written!.cookies).toEqual([cookie('sid', payload)]);
        expect(await raw(`SELECT * FROM \`${tablePrefix}_sessions\` WHERE id = ?`, ['victim'])).toEqual(victimRow);
        expect((await store.read('victim'))!.cookies).toEqual([cookie('sid', 'victim-secret')]);
        expect((await store.read('attacker'))!.cookies).toEqual([cookie('sid', payload)]);
        expect((await store.loadAll()).map((record) => record.id)).toEqual(['attacker', 'victim']);
    });

    it('stores hostile cookie values, login values, identities and errors byte-exact, and never touches another row', async () => {
        const tablePrefix = server().newPrefix();
        const store = await open({ tablePrefix });
        await store.write([delta('victim', { upserts: [cookie('sid', 'victim-secret')], counters: oneRequest })]);
        const victimRow = await raw(`SELECT * FROM \`${tablePrefix}_sessions\` WHERE id = ?`, ['victim']);

        const payloads = [...PAYLOADS, rowRewritingPayload(tablePrefix)];
        const deltas = payloads.map((payload, i) => {
            const auth: SessionAuth = {
                headers: { authorization: payload },
                query: { [payload]: payload },
                values: { token: { value: payload, source: payload } },
            };
            return delta(`p${i}`, {
                upserts: [cookie('sid', payload), cookie(payload, 'named')],
                assignment: { profileIndex: i, identity: { userAgent: payload, headers: { 'user-agent': payload } }, auth },
                lastRenewalError: payload,
            });
        });
        // One batch (multi-row statements), then one delta at a time (single-row statements).
        const written = await store.write(deltas);
        const again = [];
        for (const d of deltas) again.push(...(await store.write([{ ...d, counters: oneRequest }])));

        for (const [i, payload] of payloads.entries()) {
            const record = await store.read(`p${i}`);
            expect(record).toEqual(again[i]);
            expect(record!.cookies).toEqual([cookie('sid', payload), cookie(payload, 'named')]);
            expect(record!.identity?.userAgent).toBe(payload);
            expect(record!.auth).toEqual(deltas[i]!.assignment.auth);
            expect(record!.lastRenewalError).toBe(payload);
            expect(record!.counters.requests).toBe(1);
            // At rest, byte for byte: the JSON the store serialised, not a corrupted or re-escaped form of it.
            const [row] = await raw(
                `SELECT HEX(cookies) AS cookies, HEX(identity) AS identity, HEX(auth) AS auth, HEX(last_renewal_error) AS error
                 FROM \`${tablePrefix}_sessions\` WHERE id = ?`,
                [`p${i}`],
            );
            expect(row).toEqual({
                cookies: hex(JSON.stringify(written[i]!.cookies)),
                identity: hex(JSON.stringify(written[i]!.identity)),
                auth: hex(JSON.stringify(written[i]!.auth)),
                error: hex(payload),
            });
        }
        // The victim's row is exactly as it was, and no row was added.
        expect(await raw(`SELECT * FROM \`${tablePrefix}_sessions\` WHERE id = ?`, ['victim'])).toEqual(victimRow);
        expect((await store.read('victim'))!.cookies).toEqual([cookie('sid', 'victim-secret')]);
        expect((await store.loadAll()).map((record) => record.id).sort()).toEqual([...payloads.map((_, i) => `p${i}`), 'victim'].sort());
    });

    it('keeps hostile ids, entry collections and entry keys exact and apart', async () => {
        const tablePrefix = server().newPrefix();
        const store = await open({ tablePrefix });
        const ids = [...new Set([...PAYLOADS, ...PAYLOADS.map((payload) => `${payload} `), rowRewritingPayload(tablePrefix).slice(0, 200)])];
        await store.write(ids.map((id, i) => delta(id, { upserts: [cookie('n', String(i))], counters: oneRequest })));
        await store.write([delta('victim', { upserts: [cookie('sid', 'victim-secret')] })]);

        const byId = new Map((await store.loadAll()).map((record) => [record.id, record]));
        expect(byId.size).toBe(ids.length + 1);
        for (const [i, id] of ids.entries()) {
            expect(byId.get(id)?.cookies).toEqual([cookie('n', String(i))]);
            expect((await store.read(id))?.counters.requests).toBe(1);
        }
        const rows = await raw(`SELECT HEX(id) AS id FROM \`${tablePrefix}_sessions\``);
        expect(rows.map((row) => row.id).sort()).toEqual([...ids, 'victim'].map(hex).sort());

        for (const [i, payload] of PAYLOADS.entries()) {
            await store.putEntry(payload, payload, { i, payload });
            await store.putEntry(payload, `${payload} `, { i, spaced: true });
        }
        for (const [i, payload] of PAYLOADS.entries()) {
            expect((await store.getEntry(payload, payload))?.value).toEqual({ i, payload });
            expect((await store.listEntries(payload)).map(({ key, value }) => ({ key, value }))).toEqual([
                { key: payload, value: { i, payload } },
                { key: `${payload} `, value: { i, spaced: true } },
            ]);
        }
        expect(await store.deleteEntry(PAYLOADS[0]!, PAYLOADS[0]!)).toBe(true);
        expect((await store.listEntries(PAYLOADS[0]!)).map((entry) => entry.key)).toEqual([`${PAYLOADS[0]} `]);

        await store.remove([ids[0]!]);
        expect((await store.loadAll()).map((record) => record.id).sort()).toEqual([...ids.slice(1), 'victim'].sort());
        expect((await store.read('victim'))!.cookies).toEqual([cookie('sid', 'victim-secret')]);
    });

    it('keeps ids, entry keys and lease owners apart that differ only by trailing spaces, case or Unicode normalisation', async () => {
        const store = await open({ tablePrefix: server().newPrefix() });
        const ids = ['alice', 'alice ', 'alice  ', ' alice', 'Alice', 'ALICE', 'e\u0301', '\u00e9', '\u212b', '\u00c5', '\ufb01', 'fi', '\u00df', 'ss', 'a\u00a0', 'a\t'];
        // One write each: had two ids been one key, the second write would have landed on the first one's row.
        for (const [i, id] of ids.entries()) await store.write([delta(id, { upserts: [cookie('n', String(i))], counters: oneRequest })]);
        const records = await store.loadAll();
        expect(records.map((record) => record.id).sort()).toEqual([...ids].sort());
        for (const record of records) {
            expect(record.counters.requests).toBe(1);
            expect(record.cookies).toEqual([cookie('n', String(ids.indexOf(record.id)))]);
        }

        for (const [i, key] of ids.entries()) await store.putEntry('c', key, i);
        expect((await store.listEntries('c')).map((entry) => [entry.key, entry.value]).sort()).toEqual(ids.map((key, i) => [key, i]).sort());
        for (const [i, collection] of ids.entries()) await store.putEntry(collection, 'k', i);
        for (const [i, collection] of ids.entries()) expect((await store.getEntry(collection, 'k'))?.value).toBe(i);

        expect(await store.beginRenewal('alice', 0, 'owner', 30_000)).toEqual({ granted: true });
        expect(await store.extendRenewal('alice', 'owner ', 30_000)).toBe(false);
        expect(await store.extendRenewal('alice', 'Owner', 30_000)).toBe(false);
        expect(await store.beginRenewal('alice', 0, 'owner ', 30_000)).toMatchObject({ granted: false, reason: 'busy' });
        await store.abandonRenewal('alice', 'owner ');
        expect(await store.beginRenewal('alice', 0, 'other', 30_000)).toMatchObject({ granted: false, reason: 'busy' });
        expect(await store.extendRenewal('alice', 'owner', 30_000)).toBe(true);
        // The lease is on "alice" alone.
        expect(await store.beginRenewal('alice ', 0, 'other', 30_000)).toEqual({ granted: true });
    });

    it('refuses lone surrogates, naming the field, and never touches the row of the string MySQL would have stored', async () => {
        const tablePrefix = server().newPrefix();
        const store = await open({ tablePrefix });
        // A lone surrogate would reach MySQL as U+FFFD: "a\uD800" and "a\uFFFD" would be one session.
        await store.write([delta('a\uFFFD', { upserts: [cookie('sid', 'replacement-char')] })]);

        const error = await rejectionOf(store.write([delta('a\uD800', { upserts: [cookie('sid', 'lone')] }), delta('ok', { counters: oneRequest })]));
        expect(error.code).toBe('ERR_STORE_WRITE_REJECTED');
        expect(error.rejected).toEqual([{ id: 'a\uD800', reason: expect.stringMatching(/^its id must be well-formed Unicode \(it contains a lone surrogate/) }]);
        expect(error.records.map((record) => record?.id)).toEqual([undefined, 'ok']);
        expect((await store.read('ok'))!.counters.requests).toBe(1);
        expect((await store.read('a\uFFFD'))!.cookies).toEqual([cookie('sid', 'replacement-char')]);
        expect((await store.loadAll()).map((record) => record.id).sort()).toEqual(['a\uFFFD', 'ok']);

        await expect(store.read('a\uDC00')).rejects.toThrow(SessionIdError);
        await expect(store.read('a\uDC00')).rejects.toThrow(/^id must be well-formed Unicode/);
        await expect(store.remove(['ok', '\uD800'])).rejects.toThrow(/^ids\[1\] must be well-formed Unicode/);
        expect(await store.read('ok')).toBeDefined();
        await expect(store.beginRenewal('a\uD800', 0, 'me', 30_000)).rejects.toThrow(/^id must be well-formed/);
        await expect(store.beginRenewal('ok', 0, 'me\uDBFF', 30_000)).rejects.toThrow(ConfigValidationError);
        await expect(store.beginRenewal('ok', 0, 'me\uDBFF', 30_000)).rejects.toThrow(/^Invalid lease: lease\.owner: must be well-formed Unicode/);
        await expect(store.completeRenewal('me', delta('a\uD800', { generation: 1, reset: true }))).rejects.toThrow(/^delta\.id must be well-formed/);
        await expect(store.putEntry('rules', 'k\uD800', 1)).rejects.toThrow(/^Invalid entry: entry\.key: must be well-formed Unicode/);
        await expect(store.getEntry('rules\uDFFF', 'k')).rejects.toThrow(/collection: must be well-formed Unicode/);
        await expect(store.listEntries('\uDFFF')).rejects.toThrow(/collection: must be well-formed Unicode/);
        await expect(store.deleteEntry('rules', '\uD800')).rejects.toThrow(/key: must be well-formed Unicode/);
        expect(await raw(`SELECT id FROM \`${tablePrefix}_sessions\` WHERE lease_owner IS NOT NULL`)).toEqual([]);

        const tooLong = await rejectionOf(store.write([delta('x'.repeat(201))]));
        expect(tooLong.rejected[0]!.reason).toMatch(/its id must be at most 200 characters long; got 201/);
    });

    it('writes the rest of a batch when the server refuses some rows for good, and names them without their values', async () => {
        const tablePrefix = server().newPrefix();
        const store = await open({ tablePrefix });
        await store.write([delta('existing', { upserts: [cookie('sid', 'KEPT-VALUE')], counters: oneRequest })]);
        const revisionBefore = (await store.changes(undefined)).cursor;

        const batch = [
            delta('good-1', { upserts: [cookie('sid', 'GOOD-1-SECRET')] }),
            // Refused by the server (TEXT holds 65 535 bytes): the batch is split to find them, the rest is written.
            delta('existing', { generation: 1, reset: true, upserts: [cookie('sid', 'REPLACED-SECRET')], lastRenewalError: 'E'.repeat(70_000) }),
            delta('long-error', { upserts: [cookie('sid', 'LONG-ERROR-SECRET')], lastRenewalError: 'E'.repeat(70_000) }),
            // Refused before sending: the server would store 0 for NaN, and out-of-range values differently per server.
            delta('bad-counter', { counters: { requests: Number.NaN, successes: 0, failures: 0, renewals: 0 } }),
            delta('bad-profile', { assignment: { profileIndex: 2 ** 32, identity: null, auth: null }, upserts: [cookie('sid', 'BAD-PROFILE-SECRET')] }),
            delta('good-2', { upserts: [cookie('sid', 'GOOD-2-SECRET')] }),
            delta('good-1', { counters: oneRequest }),
        ];
        const error = await rejectionOf(store.write(batch));
        expect(error.code).toBe('ERR_STORE_WRITE_REJECTED');
        const tooLong = 'the server refused its last_renewal_error: too long for its column (ER_DATA_TOO_LONG)';
        expect(new Map(error.rejected.map(({ id, reason }) => [id, reason]))).toEqual(
            new Map([
                ['existing', tooLong],
                ['long-error', tooLong],
                ['bad-counter', 'its counters.requests is not a safe integer (NaN)'],
                ['bad-profile', 'its profileIndex is not an integer from 0 to 2147483647 (4294967296)'],
            ]),
        );
        expect(error.records.map((record) => record?.id)).toEqual(['good-1', undefined, undefined, undefined, undefined, 'good-2', 'good-1']);
        expect(error.records[6]!.counters.requests).toBe(1);
        expect(error.message).toMatch(/^The store refused 4 session\(s\) for good: "bad-counter" \(.*\), "bad-profile" \(.*\), "existing" \(.*\), …$/);
        expect(error.message).not.toMatch(/SECRET|EEEE/);

        const reopened = await open({ tablePrefix });
        expect((await reopened.read('good-1'))!).toEqual(error.records[6]);
        expect((await reopened.read('good-2'))!.cookies).toEqual([cookie('sid', 'GOOD-2-SECRET')]);
        expect(await reopened.read('existing')).toMatchObject({ generation: 0, cookies: [cookie('sid', 'KEPT-VALUE')], lastRenewalError: null });
        // No placeholder is left behind for the refused new sessions.
        expect((await raw(`SELECT id FROM \`${tablePrefix}_sessions\` ORDER BY id`)).map((row) => String(row.id))).toEqual(['existing', 'good-1', 'good-2']);
        // Exactly the written rows count as changed.
        expect((await reopened.changes(revisionBefore)).records.map((record) => record.id).sort()).toEqual(['good-1', 'good-2']);
    });
}

describe.skipIf(!shared.available)(shared.suiteName('MySqlSessionStore under hostile input: the shared server'), () => {
    const newPrefix = useTablePrefixes();
    inputSuite(() => ({ url: shared.url, newPrefix }));
});

describe.skipIf(!canRunPrivateMariaDb())('MySqlSessionStore under hostile input: a private server with NO_BACKSLASH_ESCAPES and a 1 MiB packet limit', () => {
    let db: PrivateMariaDb | undefined;
    const server = (): Server => ({ url: db!.url, newPrefix: uniqueTablePrefix });
    const open = useStores(server);

    beforeAll(async () => {
        db = await startPrivateMariaDb({ sqlMode: 'NO_BACKSLASH_ESCAPES', maxAllowedPacket: PRIVATE_MAX_ALLOWED_PACKET });
    }, 120_000);
    afterAll(async () => {
        await db?.destroy();
    });

    it('really runs with NO_BACKSLASH_ESCAPES and the small packet limit (else this suite proves nothing)', async () => {
        const [row] = await mysqlQueryAt(db!.url, 'SELECT @@GLOBAL.sql_mode AS mode, @@GLOBAL.max_allowed_packet AS packet');
        expect(String(row!.mode)).toContain('NO_BACKSLASH_ESCAPES');
        expect(Number(row!.packet)).toBe(PRIVATE_MAX_ALLOWED_PACKET);
    });

    inputSuite(server);

    /** A jar like the one that used to block its batch: 4 400 cookies, about 1.3 MB of JSON. */
    const hugeJar = () => Array.from({ length: 4_400 }, (_, i) => cookie(`c${i}`, `HUGE-SECRET-${i}-${'v'.repeat(200)}`));

    it('writes the small session of a batch whose other session exceeds max_allowed_packet, and names the huge one', async () => {
        const tablePrefix = uniqueTablePrefix();
        const store = await open({ tablePrefix, secret: 'correct horse battery staple' });
        const error = await rejectionOf(
            store.write([
                delta('huge', { upserts: hugeJar(), counters: oneRequest }),
                delta('small', { upserts: [cookie('sid', 'SMALL-SECRET')], counters: oneRequest }),
            ]),
        );
        expect(error.rejected).toEqual([
            { id: 'huge', reason: expect.stringMatching(/^its row is 1\.\d MB encoded, more than the server accepts in one statement \(max_allowed_packet 1\.0 MB\)$/) },
        ]);
        expect(error.records.map((record) => record?.id)).toEqual([undefined, 'small']);
        expect(error.message).toContain('"huge"');
        expect(error.message).not.toContain('SECRET');
        // The connection survived: the store goes on working.
        expect((await store.read('small'))!.cookies).toEqual([cookie('sid', 'SMALL-SECRET')]);
        await store.close();

        const reopened = await open({ tablePrefix, secret: 'correct horse battery staple' });
        expect(await reopened.read('small')).toEqual(error.records[1]);
        expect(await reopened.read('huge')).toBeUndefined();
        expect((await mysqlQueryAt(db!.url, `SELECT id FROM \`${tablePrefix}_sessions\``)).map((row) => String(row.id))).toEqual(['small']);
    });

    it('refuses a renewal whose session exceeds max_allowed_packet without changing the session or its lease', async () => {
        const store = await open({ tablePrefix: uniqueTablePrefix() });
        await store.write([delta('s', { upserts: [cookie('sid', 'before')] })]);
        expect(await store.beginRenewal('s', 0, 'me', 30_000)).toEqual({ granted: true });
        const error = await rejectionOf(store.completeRenewal('me', delta('s', { generation: 1, reset: true, upserts: hugeJar() })));
        expect(error.rejected).toEqual([{ id: 's', reason: expect.stringMatching(/max_allowed_packet/) }]);
        expect(await store.read('s')).toMatchObject({ generation: 0, cookies: [cookie('sid', 'before')] });
        expect(await store.beginRenewal('s', 0, 'other', 30_000)).toMatchObject({ granted: false, reason: 'busy' });
        // The holder can still complete with a session that fits.
        expect(await store.completeRenewal('me', delta('s', { generation: 1, reset: true, upserts: [cookie('sid', 'after')] }))).toMatchObject({
            generation: 1,
            cookies: [cookie('sid', 'after')],
        });
    });
});

describe.skipIf(!shared.available)(shared.suiteName('MySqlSessionStore: schema migration and idle connections'), () => {
    const newPrefix = useTablePrefixes();
    const open = useStores(() => ({ url: shared.url, newPrefix }));
    const relays: TcpRelay[] = [];
    afterEach(async () => {
        for (const relay of relays.splice(0)) await relay.close();
    });

    /** The tables as schema version 1 created them (VARCHAR keys in a PAD SPACE collation). */
    async function createVersion1Tables(prefix: string): Promise<void> {
        const options = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';
        await mysqlQuery(`CREATE TABLE \`${prefix}_schema_version\` (id INT NOT NULL AUTO_INCREMENT, version INT NOT NULL,
            description VARCHAR(200) NOT NULL, applied_at BIGINT NOT NULL, applied_by VARCHAR(200) NOT NULL, PRIMARY KEY (id)) ${options}`);
        await mysqlQuery(`CREATE TABLE \`${prefix}_meta\` (name VARCHAR(64) NOT NULL, value LONGTEXT NULL, number BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (name)) ${options}`);
        await mysqlQuery(`CREATE TABLE \`${prefix}_sessions\` (id VARCHAR(200) NOT NULL, lease_only TINYINT(1) NOT NULL DEFAULT 0,
            generation BIGINT NOT NULL DEFAULT 0, profile_index INT NULL, identity LONGTEXT NULL, cookies LONGTEXT NOT NULL, auth LONGTEXT NULL,
            requests BIGINT NOT NULL DEFAULT 0, successes BIGINT NOT NULL DEFAULT 0, failures BIGINT NOT NULL DEFAULT 0,
            renewals BIGINT NOT NULL DEFAULT 0, last_used_at BIGINT NULL, last_renewal_error TEXT NULL, revision BIGINT NOT NULL DEFAULT 0,
            lease_owner VARCHAR(200) NULL, lease_expires_at BIGINT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (id), KEY revision_idx (revision)) ${options}`);
        await mysqlQuery(`CREATE TABLE \`${prefix}_entries\` (collection VARCHAR(200) NOT NULL, entry_key VARCHAR(200) NOT NULL,
            value LONGTEXT NOT NULL, secret TINYINT(1) NOT NULL DEFAULT 0, revision BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL,
            PRIMARY KEY (collection, entry_key)) ${options}`);
        await mysqlQuery(`INSERT INTO \`${prefix}_schema_version\` (version, description, applied_at, applied_by) VALUES (1, 'v1', 0, 'test')`);
        await mysqlQuery(`INSERT INTO \`${prefix}_meta\` (name, value, number) VALUES ('revision', NULL, 7)`);
    }

    it('migrates a version-1 store to exact keys, keeping every row', async () => {
        const prefix = newPrefix();
        await createVersion1Tables(prefix);
        const sessionRow = (id: string, value: string, revision: number, owner: string | null) => [
            id, 0, 3, 1, JSON.stringify({ userAgent: 'UA/1', headers: {} }), JSON.stringify([cookie('sid', value)]), null, 5, 4, 1, 2,
            1_700_000_000_000, null, revision, owner, owner ? 4_000_000_000_000 : null, 1_700_000_000_000,
        ];
        const rows = [
            sessionRow('alice ', 'trailing-space', 5, null),
            sessionRow('😀 𠜎', 'emoji', 6, 'höst:1:abc'),
            sessionRow('Alice', 'capital', 7, null),
        ];
        await mysqlQuery(`INSERT INTO \`${prefix}_sessions\` VALUES ?`, [rows]);
        await mysqlQuery(`INSERT INTO \`${prefix}_entries\` VALUES ?`, [[['rules', 'key ', '{"v":1}', 0, 5, 1], ['rules ', 'other', '{"v":2}', 0, 6, 2]]]);

        const store = await open({ tablePrefix: prefix });
        const log = await mysqlQuery(`SELECT version FROM \`${prefix}_schema_version\` ORDER BY id`);
        expect(log.map((row) => row.version)).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
        const columns = await mysqlQuery(
            `SELECT table_name AS t, column_name AS c, column_type AS type FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name IN (?, ?) AND column_name IN ('id', 'lease_owner', 'collection', 'entry_key')
             ORDER BY table_name, column_name`,
            [`${prefix}_sessions`, `${prefix}_entries`],
        );
        expect(columns.map((row) => [row.t, row.c, row.type])).toEqual([
            [`${prefix}_entries`, 'collection', 'varbinary(800)'],
            [`${prefix}_entries`, 'entry_key', 'varbinary(800)'],
            [`${prefix}_sessions`, 'id', 'varbinary(800)'],
            [`${prefix}_sessions`, 'lease_owner', 'varbinary(800)'],
        ]);

        // Every old row is there, with its exact id and all its state.
        expect((await store.loadAll()).map((record) => [record.id, record.cookies[0]!.value])).toEqual([
            ['Alice', 'capital'],
            ['alice ', 'trailing-space'],
            ['😀 𠜎', 'emoji'],
        ]);
        expect(await store.read('alice ')).toMatchObject({
            generation: 3,
            profileIndex: 1,
            identity: { userAgent: 'UA/1', headers: {} },
            counters: { requests: 5, successes: 4, failures: 1, renewals: 2 },
            lastUsedAt: 1_700_000_000_000,
        });
        expect(await store.read('alice')).toBeUndefined();
        // The lease survived the conversion, owner included.
        expect(await store.beginRenewal('😀 𠜎', 3, 'other', 30_000)).toMatchObject({ granted: false, reason: 'busy' });
        expect(await store.beginRenewal('😀 𠜎', 3, 'höst:1:abc', 30_000)).toEqual({ granted: true });
        expect((await store.getEntry('rules', 'key '))?.value).toEqual({ v: 1 });
        expect(await store.getEntry('rules', 'key')).toBeUndefined();
        expect((await store.getEntry('rules ', 'other'))?.value).toEqual({ v: 2 });
        expect(await store.getEntry('rules', 'other')).toBeUndefined();
        // Keys that were one under the old collation are two now.
        await store.putEntry('rules', 'key', { v: 3 });
        expect((await store.listEntries('rules')).map((entry) => [entry.key, entry.value])).toEqual([
            ['key', { v: 3 }],
            ['key ', { v: 1 }],
        ]);
        // Changes continue from the old revision sequence.
        expect((await store.changes('6')).records.map((record) => record.id)).toEqual(['Alice']);

        // "alice" is a session of its own now, next to "alice ".
        await store.write([delta('alice', { upserts: [cookie('sid', 'new')] })]);
        expect((await store.read('alice '))!.cookies).toEqual([cookie('sid', 'trailing-space')]);
        expect((await store.read('alice'))!.cookies).toEqual([cookie('sid', 'new')]);
        // A second open finds nothing to migrate.
        await open({ tablePrefix: prefix });
        expect(await mysqlQuery(`SELECT version FROM \`${prefix}_schema_version\``)).toHaveLength(LATEST_SCHEMA_VERSION);
    });

    it('counts a write retried after its COMMIT answer was lost once, and survives a damaged writers column', async () => {
        const target = new URL(shared.url);
        const relay = await startTcpRelay(target.hostname, Number(target.port || 3306));
        relays.push(relay);
        const viaRelay = new URL(shared.url);
        viaRelay.host = `127.0.0.1:${relay.port}`;
        const prefix = newPrefix();
        const store = await MySqlSessionStore.open({ url: viaRelay.href, tablePrefix: prefix });
        try {
            const three = { requests: 3, successes: 3, failures: 0, renewals: 0 };
            const lost = relay.loseAnswerTo('\x03COMMIT');
            await expect(store.write([delta('w', { counters: three, writer: { id: 'p1.1', sent: three } })])).rejects.toThrow();
            await lost;
            // The first write was committed: the retry (its increments plus two new requests) adds only the two.
            const five = { requests: 5, successes: 5, failures: 0, renewals: 0 };
            const retried = await store.write([delta('w', { counters: five, writer: { id: 'p1.1', sent: five } })]);
            expect(retried[0]!.counters.requests).toBe(5);
            // Another writer's increments add up as usual.
            await store.write([delta('w', { counters: oneRequest, writer: { id: 'p2.1', sent: oneRequest } })]);
            expect((await store.read('w'))!.counters.requests).toBe(6);

            await mysqlQuery(`UPDATE \`${prefix}_sessions\` SET writers = '{"p1.1": {"requests": "lots"' WHERE id = 'w'`);
            const seven = { requests: 7, successes: 7, failures: 0, renewals: 0 };
            const afterDamage = await store.write([delta('w', { counters: oneRequest, writer: { id: 'p1.1', sent: seven } })]);
            // A damaged column is dropped: the delta's own increment is counted and the column written anew.
            expect(afterDamage[0]!.counters.requests).toBe(7);
            const [row] = await mysqlQuery(`SELECT writers FROM \`${prefix}_sessions\` WHERE id = 'w'`);
            expect(Object.keys(JSON.parse(String(row!.writers)) as object)).toEqual(['p1.1']);
        } finally {
            await store.close();
        }
    });

    it('closes connections left unused for idleTimeoutMillis, and opens new ones when needed', async () => {
        const target = new URL(shared.url);
        const relay = await startTcpRelay(target.hostname, Number(target.port || 3306));
        relays.push(relay);
        const viaRelay = new URL(shared.url);
        viaRelay.host = `127.0.0.1:${relay.port}`;
        const store = await MySqlSessionStore.open({ url: viaRelay.href, tablePrefix: newPrefix(), idleTimeoutMillis: 200 });
        try {
            await Promise.all(Array.from({ length: 4 }, (_, i) => store.write([delta(`s${i}`, { counters: oneRequest })])));
            expect(relay.openConnections).toBeGreaterThan(0);
            // Bounded wait for the condition (not a timing assertion): the idle connections go away.
            for (let waited = 0; relay.openConnections > 0 && waited < 20_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
            expect(relay.openConnections).toBe(0);
            await store.write([delta('s0', { counters: oneRequest })]);
            expect((await store.read('s0'))!.counters.requests).toBe(2);
        } finally {
            await store.close();
        }
    });
});
