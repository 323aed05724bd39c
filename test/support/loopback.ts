import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A server listening on a free port of 127.0.0.1. */
export interface LoopbackListener {
    /** `http://127.0.0.1:<port>`. */
    readonly url: string;
    /** Closes the server and destroys its open sockets (keep-alive ones included), so closing never waits. */
    close(): Promise<void>;
}

/** Makes a test server listen on a free loopback port, keeping track of its sockets for a prompt close. */
export async function listenOnLoopback(server: http.Server): Promise<LoopbackListener> {
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        async close() {
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const socket of sockets) socket.destroy();
            server.closeAllConnections();
            await closed;
        },
    };
}
