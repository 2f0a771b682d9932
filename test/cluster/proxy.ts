/** A TCP proxy to a NATS server that a test can cut (one instance cut off from NATS, the others not) and restore. */
import type { Socket, TCPSocketListener } from "bun";
import { freePort } from "../helpers/index.ts";

export interface Proxy {
  url: string;
  cut: () => void;
  restore: () => void;
  close: () => void;
}

export function natsProxy(targetPort: number): Proxy {
  const port = freePort();
  let open = true;
  const pairs = new Set<{ a: Socket<any>; b?: Socket<any> }>();
  let listener: TCPSocketListener<any> | undefined;
  const listen = () => {
    listener = Bun.listen<{ pair: { a: Socket<any>; b?: Socket<any>; pending: Uint8Array[] } }>({
      hostname: "127.0.0.1",
      port,
      socket: {
        async open(a) {
          if (!open) return void a.end();
          const pair: any = { a, pending: [] };
          a.data = { pair };
          pairs.add(pair);
          try {
            pair.b = await Bun.connect({
              hostname: "127.0.0.1",
              port: targetPort,
              socket: {
                data(_b, d) {
                  pair.a.write(d);
                },
                close() {
                  pair.a.end();
                  pairs.delete(pair);
                },
                error() {},
              },
            });
            for (const d of pair.pending) pair.b.write(d);
            pair.pending = [];
          } catch {
            a.end();
          }
        },
        data(a, d) {
          const pair = a.data.pair;
          if (pair.b) pair.b.write(d);
          else pair.pending.push(new Uint8Array(d));
        },
        close(a) {
          a.data?.pair.b?.end();
          pairs.delete(a.data?.pair);
        },
        error() {},
      },
    });
  };
  listen();
  const cut = () => {
    open = false;
    for (const p of pairs) {
      p.a.terminate?.() ?? p.a.end();
      p.b?.terminate?.() ?? p.b?.end();
    }
    pairs.clear();
  };
  return { url: `nats://127.0.0.1:${port}`, cut, restore: () => void (open = true), close: () => (cut(), listener?.stop(true)) };
}
