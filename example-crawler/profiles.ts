/**
 * Client identities for the crawl: each session is paired with one profile (a proxy and the User-Agent sent
 * through it) and keeps it until it is renewed, when it gets a different one.
 *
 * In your project this file is simply
 *
 *     export default defineProfiles([...]);
 *
 * and the crawler loads it with `await loadProfiles('./profiles.ts')`. The default export below is such a list.
 * The demo cannot use it as is: its proxies run on loopback on ports that are only known once they have
 * started, so main.ts builds the same shape with {@link buildProfiles}.
 */
import { defineProfiles, type Profile } from '../src/index.js';

const USER_AGENTS = [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
];

// Read proxy passwords from the environment rather than committing them; they never appear in logs
// (sessions.list() and error messages show `user:***@host`).
const password = process.env.PROXY_PASSWORD ?? 'change-me';

export default defineProfiles([
    { name: 'us-east', proxy: `http://crawler:${password}@us-east.proxy.example.net:8000`, userAgent: USER_AGENTS[0] },
    { name: 'eu-west', proxy: `http://crawler:${password}@eu-west.proxy.example.net:8000`, userAgent: USER_AGENTS[1] },
    { name: 'ap-south', proxy: `http://crawler:${password}@ap-south.proxy.example.net:8000`, userAgent: USER_AGENTS[2] },
]);

/** The demo's profiles: the same shape, around the proxies started at run time. */
export function buildProfiles(proxyUrls: readonly string[]): readonly Profile[] {
    return defineProfiles(
        proxyUrls.map((proxy, i) => ({ name: `proxy-${i + 1}`, proxy, userAgent: USER_AGENTS[i % USER_AGENTS.length] })),
    );
}
