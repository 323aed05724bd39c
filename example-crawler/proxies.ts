/**
 * Three real HTTP proxies for the demo (Apify's proxy-chain), with credentials. Proxy i listens on 127.0.0.1 and
 * forwards from its own loopback address 127.0.0.(i+2), so the demo site sees three different client IPs, the
 * way a site sees the exit IPs of a commercial proxy pool.
 */
import { randomBytes } from 'node:crypto';

import { Server } from 'proxy-chain';

export interface DemoProxies {
    /** `http://user:password@127.0.0.1:<port>`: keep these out of logs. */
    readonly urls: string[];
    /** The client IP the site sees for each proxy. */
    readonly exitAddresses: string[];
    close(): Promise<void>;
}

export interface DemoProxyOptions {
    count?: number;
    username?: string;
    /** Default: a random password for this run. */
    password?: string;
}

export async function startDemoProxies(options: DemoProxyOptions = {}): Promise<DemoProxies> {
    const { count = 3, username = 'crawler', password = randomBytes(9).toString('base64url') } = options;
    const exitAddresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
    const servers = exitAddresses.map(
        (localAddress) =>
            new Server({
                port: 0,
                host: '127.0.0.1',
                prepareRequestFunction: (request) => {
                    if (request.username !== username || request.password !== password) {
                        return { requestAuthentication: true, failMsg: 'Proxy credentials required.' };
                    }
                    return { localAddress };
                },
            }),
    );
    const close = async () => {
        // close(true) drops open keep-alive connections instead of waiting for the clients to hang up.
        await Promise.all(servers.map((server) => (server.server.listening ? server.close(true) : undefined)));
    };
    try {
        await Promise.all(servers.map((server) => server.listen()));
    } catch (error) {
        await close();
        throw error;
    }
    const credentials = `${encodeURIComponent(username)}:${encodeURIComponent(password)}`;
    return {
        urls: servers.map((server) => `http://${credentials}@127.0.0.1:${server.port}`),
        exitAddresses,
        close,
    };
}
