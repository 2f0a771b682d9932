/**
 * Client certificates that name users. Bun.serve checks a client
 * certificate during the handshake but does not tell a request which
 * certificate it came with; node:tls does. So with --tls-client-user, the
 * public port is a node:tls server that checks the certificate and pipes
 * each connection to flue's HTTP server on a loopback port. The HTTP server
 * learns who is on a connection from the proxy's local port, which it sees
 * as the request's remote port; a connection the proxy did not make (a
 * local process dialling the loopback port directly) is refused.
 */
import type net from "node:net";
import { readFileSync } from "node:fs";

/** Who is at the other end of one proxied connection. */
export interface Peer {
  /** The client certificate's subject CN. */
  cn: string | null;
  /** The client's own address, for the audit log and the throttle. */
  address: string;
}

export interface CertProxy {
  port: number;
  hostname: string;
  /**
   * The peer of a connection by the address and port it reached the HTTP
   * server from, or undefined when the proxy did not make it (the proxy
   * dials from 127.0.0.1 only).
   */
  peer(from: { address: string; port: number } | null | undefined): Peer | undefined;
  /** Stops taking connections; `force` also cuts the open ones. */
  stop(force: boolean): void;
}

export interface CertProxyOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  ca: string;
  /** Where flue's HTTP server listens, on loopback. */
  innerPort: number;
}

export async function startCertProxy(opts: CertProxyOptions): Promise<CertProxy> {
  // Loaded here, not at the top: node:net and node:tls would cost every start-up ~10 ms.
  const [net, tls] = await Promise.all([import("node:net"), import("node:tls")]);
  const peers = new Map<number, Peer>();
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: readFileSync(opts.cert), key: readFileSync(opts.key), ca: readFileSync(opts.ca), requestCert: true, rejectUnauthorized: true },
    (client) => {
      // rejectUnauthorized ends the handshake of a client without a good certificate; this is the second lock.
      if (!client.authorized) return client.destroy();
      const cn = client.getPeerCertificate()?.subject?.CN;
      const peer: Peer = { cn: typeof cn === "string" ? cn : null, address: client.remoteAddress ?? "unknown" };
      client.pause();
      // Saved when connected: a destroyed socket no longer knows its port, and an entry left
      // behind would let any local process that dials from that port act as this user.
      let port: number | undefined;
      const inner = net.connect(opts.innerPort, "127.0.0.1", () => {
        // Known before the first byte is forwarded: the HTTP server asks as soon as a request arrives.
        port = inner.localPort!;
        peers.set(port, peer);
        client.pipe(inner);
        inner.pipe(client);
        client.resume();
      });
      sockets.add(client).add(inner);
      const close = () => {
        if (port !== undefined && peers.get(port) === peer) peers.delete(port);
        client.destroy();
        inner.destroy();
        sockets.delete(client);
        sockets.delete(inner);
      };
      // Forgotten as soon as either side starts to close, not only once both are gone.
      client.on("error", close).on("end", close).on("close", close);
      inner.on("error", close).on("end", close).on("close", close);
    },
  );
  // A failed handshake is the client's problem, not flue's: nothing to log.
  server.on("tlsClientError", () => {});
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      const address = server.address() as net.AddressInfo;
      resolve({
        port: address.port,
        hostname: address.address,
        peer: (from) => (from && from.address === "127.0.0.1" ? peers.get(from.port) : undefined),
        stop: (force) => {
          if (server.listening) server.close();
          if (force) for (const s of sockets) s.destroy();
        },
      });
    });
  });
}
