import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A server listening on a free port of a loopback address. */
export interface LoopbackListener {
    /** `http://<host>:<port>`. */
    readonly url: string;
    /** Closes the server and destroys its open sockets (keep-alive ones included), so closing never waits. */
    close(): Promise<void>;
}

/**
 * Makes a test server listen on a free port of a loopback address (default 127.0.0.1; all of 127.0.0.0/8 is usable,
 * so a second "host" is another address), keeping track of its sockets for a prompt close.
 */
export async function listenOnLoopback(server: http.Server, host = '127.0.0.1'): Promise<LoopbackListener> {
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://${host}:${port}`,
        async close() {
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const socket of sockets) socket.destroy();
            server.closeAllConnections();
            await closed;
        },
    };
}
