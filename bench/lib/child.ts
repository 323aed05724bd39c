/**
 * Runs a TypeScript file in a fresh Node process (through tsx) and returns what it printed, so that measurements
 * such as RSS start from a clean process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: children run there so that `--import tsx` resolves. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Options of {@link runTsChild}. */
export interface TsChildOptions {
    /** Extra Node flags, e.g. `--expose-gc`. */
    nodeFlags?: string[];
    env?: NodeJS.ProcessEnv;
    /** Kill the child after this many ms. Default 10 minutes. */
    timeoutMs?: number;
}

/** Runs `file` (a path relative to the repository root) with `args`; resolves with its stdout, rejects on failure. */
export function runTsChild(file: string, args: string[], options: TsChildOptions = {}): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', 'tsx', file, ...args], {
            cwd: REPO_ROOT,
            env: { ...process.env, ...options.env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
        child.on('error', reject);
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            if (code === 0) resolve(stdout);
            else reject(new Error(`${file} ${args.join(' ')} exited with ${signal ?? code}: ${lastLines(stderr)}`));
        });
    });
}

/** The last JSON line a child printed, parsed. */
export function lastJsonLine<T>(stdout: string): T {
    const line = stdout.trim().split('\n').reverse().find((candidate) => candidate.startsWith('{'));
    if (!line) throw new Error(`no JSON result in the child's output: ${lastLines(stdout)}`);
    return JSON.parse(line) as T;
}

function lastLines(text: string): string {
    return text
        .split('\n')
        .filter((line) => line.trim() && !line.includes('Unknown user config'))
        .slice(-5)
        .join(' | ');
}
