/**
 * The embedded store's exclusive lock, with real processes: of two processes opening a large store at the same moment
 * exactly one opens it and the other gets the clear message, round after round; a lock left by a process killed with
 * SIGKILL is taken over; another machine's lock is respected until it is stale; a holder whose lock was taken away
 * stops writing.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { log } from 'crawlee';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { EmbeddedSessionStore } from '../src/stores/embedded-store.js';
import { StoreUnavailableError, type SessionDelta } from '../src/model/types.js';

log.setLevel(log.LEVELS.OFF);
vi.setConfig({ testTimeout: 300_000 });

const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-lock-'));
    dirs.push(dir);
    return dir;
}

function delta(id: string): SessionDelta {
    return {
        id,
        generation: 0,
        reset: false,
        assignment: { profileIndex: null, identity: null, auth: null },
        upserts: [{ key: 'sid', value: `value-of-${id}`, domain: 'race.example', path: '/' }],
        removals: [],
        counters: { requests: 1, successes: 1, failures: 0, renewals: 0 },
        lastUsedAt: null,
    };
}

/** A racing process: its output lines arrive in `lines`; `expect(prefix)` waits for the next line starting so. */
function racer(dir: string, tag: string) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/lock-race.ts', dir, tag], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const queue: string[] = [];
    const waiters: Array<(line: string) => void> = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
        const waiter = waiters.shift();
        if (waiter) waiter(line);
        else queue.push(line);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return {
        child,
        exited,
        next: () =>
            new Promise<string>((resolve, reject) => {
                if (queue.length) return resolve(queue.shift()!);
                waiters.push(resolve);
                void exited.then((code) => reject(new Error(`racer ${tag} exited with ${code}: ${stderr}`)));
            }),
        send: (line: string) => child.stdin.write(`${line}\n`),
    };
}

describe('embedded store: the exclusive lock', () => {
    it('two processes opening a store of 20 000 sessions at the same moment: exactly one opens it, the other is refused clearly (3 rounds, no session lost)', async () => {
        const dir = await tempDir();
        const store = await EmbeddedSessionStore.open({ storageDir: dir });
        for (let batch = 0; batch < 4; batch++) await store.write(Array.from({ length: 5000 }, (_, n) => delta(`seed-${batch}-${n}`)));
        await store.close();

        let expected = 20_000;
        for (let round = 0; round < 3; round++) {
            const racers = [racer(dir, `r${round}a`), racer(dir, `r${round}b`)];
            expect(await Promise.all(racers.map((r) => r.next()))).toEqual(['WAITING', 'WAITING']);
            for (const r of racers) r.send('GO');
            const answers = await Promise.all(racers.map((r) => r.next()));
            const opened = answers.filter((answer) => answer.startsWith('OPENED'));
            const refused = answers.filter((answer) => answer.startsWith('REFUSED'));
            expect(opened, answers.join('\n')).toEqual([`OPENED ${expected}`]);
            expect(refused).toHaveLength(1);
            const winner = racers[answers.findIndex((answer) => answer.startsWith('OPENED'))]!;
            expect(refused[0]).toMatch(
                new RegExp(`^REFUSED The embedded store "crawlee-sessions" in .* is in use by process ${winner.child.pid} \\(since .*\\)\\. The embedded store serves one process at a time`),
            );
            winner.send('CLOSE');
            expect(await winner.next()).toBe('CLOSED');
            expect(await Promise.all(racers.map((r) => r.exited))).toEqual([0, 0]);
            expected += 100;
        }
        const after = await EmbeddedSessionStore.open({ storageDir: dir });
        expect((await after.loadAll()).length).toBe(20_300);
        await after.close();
    });

    it('a lock left by a process killed with SIGKILL is taken over by the next process', async () => {
        const dir = await tempDir();
        const holder = racer(dir, 'killed');
        expect(await holder.next()).toBe('WAITING');
        holder.send('GO');
        expect(await holder.next()).toBe('OPENED 0');
        // While it lives, the lock holds.
        await expect(EmbeddedSessionStore.open({ storageDir: dir })).rejects.toThrow(`in use by process ${holder.child.pid}`);
        holder.child.kill('SIGKILL');
        await holder.exited;
        const left = JSON.parse(await readFile(join(dir, 'key_value_stores', 'crawlee-sessions', 'lock.json'), 'utf8')) as { pid: number };
        expect(left.pid).toBe(holder.child.pid); // the dead process's lock is still there…
        const store = await EmbeddedSessionStore.open({ storageDir: dir }); // …and is recovered
        await store.write([delta('after-kill')]);
        await store.close();
    });

    it('a lock of another machine is respected until it has had no heartbeat for staleLockSecs; a lock of a live process on this machine always', async () => {
        const dir = await tempDir();
        await (await EmbeddedSessionStore.open({ storageDir: dir })).close();
        const lockPath = join(dir, 'key_value_stores', 'crawlee-sessions', 'lock.json');
        await writeFile(lockPath, JSON.stringify({ pid: 4242, host: 'crawler-7.example', since: '2026-01-01T00:00:00.000Z', token: 'x' }));
        await expect(EmbeddedSessionStore.open({ storageDir: dir, staleLockSecs: 60 })).rejects.toThrow(
            'in use by process 4242 on crawler-7.example (since 2026-01-01T00:00:00.000Z)',
        );
        const old = new Date(Date.now() - 120_000);
        await utimes(lockPath, old, old);
        const store = await EmbeddedSessionStore.open({ storageDir: dir, staleLockSecs: 60 });
        await store.close();

        // This very process, through another instance: refused too (two instances would overwrite each other's commits).
        const first = await EmbeddedSessionStore.open({ storageDir: dir });
        await expect(EmbeddedSessionStore.open({ storageDir: dir })).rejects.toThrow(`in use by this process (${process.pid}`);
        await first.close();
        await writeFile(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), since: 'old', token: 'not-mine' }));
        const error = await EmbeddedSessionStore.open({ storageDir: dir }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        await unlink(lockPath);

        // A restarted container: the same process id (and host name) as the dead holder, but a process that started at
        // another moment (Linux: /proc/<pid>/stat). Not a live holder: taken over.
        if (existsSync(`/proc/${process.pid}/stat`)) {
            await writeFile(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), since: 'before the restart', token: 'old', startTime: '1' }));
            const restarted = await EmbeddedSessionStore.open({ storageDir: dir });
            await restarted.close();
        }
    });

    it('a holder whose lock was removed and taken by another process writes nothing more', async () => {
        const dir = await tempDir();
        const a = await EmbeddedSessionStore.open({ storageDir: dir });
        await a.write([delta('from-a')]);
        await unlink(join(dir, 'key_value_stores', 'crawlee-sessions', 'lock.json'));
        const b = await EmbeddedSessionStore.open({ storageDir: dir });
        await b.write([delta('from-b')]);
        await expect(a.write([delta('late-a')])).rejects.toThrow(/no longer locked by this process \(its lock was removed or taken over by process \d+/);
        expect((await b.loadAll()).map((record) => record.id).sort()).toEqual(['from-a', 'from-b']);
        await a.close(); // does not remove b's lock
        await expect(EmbeddedSessionStore.open({ storageDir: dir })).rejects.toThrow('in use by this process');
        await b.close();
    });
});
