/** A TCP port on 127.0.0.1 for a child server the test starts (run's HTTP_PORT, PostgreSQL). */
import net from 'node:net';

/** Listen on 0, read the port, close: a port nobody else holds right now. */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
