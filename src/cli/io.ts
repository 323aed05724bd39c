/** Where the CLI writes, and what it needs to know about its terminal. */
export interface CliIo {
    /** Receives normal output (tables, JSON, exported cookies). Default: `process.stdout`. */
    stdout: (text: string) => void;
    /** Receives the one-line error of a failing command. Default: `process.stderr`. */
    stderr: (text: string) => void;
    /**
     * Whether stdout is a terminal: `export` then refuses to print cookie values without `--reveal`.
     * Default: `process.stdout.isTTY`.
     */
    stdoutIsTTY: boolean;
    /** Environment variables (secrets, store URL). Default: `process.env`. */
    env: NodeJS.ProcessEnv;
    /** Reads all of stdin (for `import <id> -`). Default: reads `process.stdin`. */
    readStdin: () => Promise<string>;
    /** Stops a long-running command (`list --watch`) like SIGINT. Default none. */
    signal?: AbortSignal;
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
    return {
        stdout: (text) => void process.stdout.write(text),
        stderr: (text) => void process.stderr.write(text),
        stdoutIsTTY: process.stdout.isTTY === true,
        env: process.env,
        readStdin: async () => {
            const chunks: Buffer[] = [];
            for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
            return Buffer.concat(chunks).toString('utf8');
        },
    };
}
