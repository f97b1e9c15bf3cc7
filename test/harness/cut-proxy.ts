// A TCP proxy in front of the API server for one client, which the test can cut (a network
// partition: open connections die, new ones are accepted and never answered, as a dropped
// route looks) and heal. TLS passes through untouched (the server's certificate names
// 127.0.0.1, which the proxy listens on too).
import { createServer, connect, type Server, type Socket } from 'node:net';

export class CutProxy {
  private readonly sockets = new Set<Socket>();
  private cut = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<CutProxy> {
    let proxy: CutProxy | undefined;
    const server = createServer((client) => {
      proxy!.sockets.add(client);
      client.on('close', () => proxy!.sockets.delete(client));
      client.on('error', () => client.destroy());
      if (proxy!.cut) return; // black hole: accepted, never answered
      const upstream = connect(target.port, target.host);
      proxy!.sockets.add(upstream);
      upstream.on('close', () => {
        proxy!.sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new CutProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  /** Partition: every open connection dies, new ones hang. */
  partition(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  heal(): void {
    this.cut = false;
    for (const socket of this.sockets) socket.destroy(); // hung connections fail fast, clients reconnect
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
