import { Console } from 'node:console';
import { Writable } from 'node:stream';

import { expect, it } from 'vitest';

import { runExample } from '../example-crawler/main.js';

it('runs the example end to end: every page logged in, sessions renewed, no stale request, no secret printed', async () => {
    let output = '';
    const sink = new Writable({
        write(chunk, _encoding, callback) {
            output += String(chunk);
            callback();
        },
    });
    const proxyPassword = 'example-test-proxy-password';

    const result = await runExample({ pages: 60, console: new Console({ stdout: sink, stderr: sink }), proxyPassword });

    expect(result.pages).toBe(80); // 60 pages in part 1, 20 with the browser's session in part 2
    expect(result.loggedIn).toBe(result.pages);
    expect(result.staleRequests).toBe(0);
    expect(result.failed).toBe(0);
    expect(result.renewals).toBeGreaterThan(0);
    expect(result.browserToken).toBe(true);
    expect(result.ok).toBe(true);
    expect(output).toContain(result.verdict);
    expect(result.verdict).toMatch(/^VERDICT: 80\/80 pages fetched logged in · \d+ renewals · stale requests: 0 · failed: 0$/);

    expect(output).toContain('crawler:***@127.0.0.1');
    expect(output).not.toContain(proxyPassword);
    // sids and API tokens are 32 hex digits: no cookie value or token may be printed.
    expect(output).not.toMatch(/[0-9a-f]{32}/);
});
