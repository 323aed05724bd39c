/**
 * Real HTTP proxies on loopback for tests (Apify's proxy-chain). Proxy i leaves from its own loopback address
 * 127.0.0.(i+2), so a site on 127.0.0.1 sees a distinct client IP per proxy.
 */
import { Server } from 'proxy-chain';

/** Options of {@link startProxies}. */
export interface TestProxyOptions {
    /** When set, every proxy demands these credentials (answers 407 otherwise). */
    auth?: { username: string; password: string };
}

/** Running test proxies; index i of every array belongs to proxy i. */
export interface TestProxies {
    /** Proxy URLs, e.g. `http://127.0.0.1:40111` or `http://user:pass@127.0.0.1:40111` with auth. */
    readonly urls: string[];
    /** The outgoing (client) IP each proxy uses towards the target: `127.0.0.(i+2)`. */
    readonly addresses: string[];
    /** Requests (HTTP requests and CONNECT tunnels) each proxy accepted and forwarded. */
    readonly requestCounts: number[];
    /** Closes all proxies and their connections. */
    close(): Promise<void>;
}

const CLOSE_TIMEOUT_MS = 5_000;

/** Starts `count` proxies on 127.0.0.1 with free ports. */
export async function startProxies(count: number, options: TestProxyOptions = {}): Promise<TestProxies> {
    const { auth } = options;
    const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
    const requestCounts = addresses.map(() => 0);
    const servers = addresses.map(
        (localAddress, i) =>
            new Server({
                port: 0,
                host: '127.0.0.1',
                prepareRequestFunction: ({ username, password }) => {
                    if (auth && (username !== auth.username || password !== auth.password)) {
                        return { requestAuthentication: true, failMsg: 'Proxy credentials required.' };
                    }
                    requestCounts[i]++;
                    return { localAddress };
                },
            }),
    );
    const close = async (): Promise<void> => {
        const closing = Promise.all(servers.map((server) => (server.server ? server.close(true) : undefined)));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS); });
        await Promise.race([closing, timeout]);
        clearTimeout(timer);
    };
    try {
        await Promise.all(servers.map((server) => server.listen()));
    } catch (error) {
        await close();
        throw error;
    }
    const credentials = auth ? `${encodeURIComponent(auth.username)}:${encodeURIComponent(auth.password)}@` : '';
    return {
        urls: servers.map((server) => `http://${credentials}127.0.0.1:${server.port}`),
        addresses,
        requestCounts,
        close,
    };
}
