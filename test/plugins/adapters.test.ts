/**
 * The tcp, pipe, append and nats adapters against real processes (python3,
 * sh, cat) and a real nats-server started on a free port.
 */
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as v from "valibot";
import append from "../../plugins/append.ts";
import nats from "../../plugins/nats.ts";
import pipe from "../../plugins/pipe.ts";
import tcp from "../../plugins/tcp.ts";
import { sendFile } from "../../plugins/lib/stream.ts";
import { drive, freePort } from "./adapters-drive.ts";
import { tempDir } from "../helpers/index.ts";

const tmp = join(tmpdir(), `flue-adapters-${process.pid}`);
Bun.spawnSync(["mkdir", "-p", tmp]);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A source file of `bytes`. */
function source(name: string, bytes: Uint8Array) {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return { path, size: bytes.length };
}
const ALL_BYTES = Uint8Array.from({ length: 256 * 4 }, (_, i) => i % 256);
const random = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
};
const inverted = (b: Uint8Array) => b.map((x) => 255 - x);

/** A server that accepts one connection, reads until EOF, answers with every byte inverted (when asked), and reports its recv sizes on stdout. */
const SERVER = `
import socket, sys
port, reply = int(sys.argv[1]), sys.argv[2] == "reply"
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", port)); s.listen(1)
c, _ = s.accept(); data = bytearray(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    data += b; n += 1
if reply: c.sendall(bytes(data).translate(bytes(range(255, -1, -1))))
c.shutdown(socket.SHUT_WR); c.close()
print(len(data), n)
`;
const server = (port: number, reply: boolean) => ["python3", "-c", SERVER, String(port), reply ? "reply" : "quiet"];

describe("tcp", () => {
  test("parameters: chunk_size as text, port range", () => {
    expect(v.parse(tcp.parameters, { tcp_port: 8090, chunk_size: "10KB" }).chunk_size).toBe(10_000);
    expect(v.parse(tcp.parameters, { tcp_port: 8090 })).toMatchObject({ host: "127.0.0.1", connect_timeout: 10, chunk_size: 65536 });
    expect(v.safeParse(tcp.parameters, { tcp_port: 70000 }).success).toBe(false);
    expect(v.safeParse(tcp.parameters, { tcp_port: 1, chunk_size: "ten" }).success).toBe(false);
    expect(tcp.bind!(v.parse(tcp.parameters, { tcp_port: 1 }), "output").name).toBe("output_port");
  });

  test("input and output on one port: all 256 byte values, round trip", async () => {
    const port = await freePort();
    const src = source("bytes.bin", ALL_BYTES);
    const r = await drive({
      input: { adapter: tcp, params: { tcp_port: port, chunk_size: "100" }, name: "req", source: src },
      output: { adapter: tcp, params: { tcp_port: port }, name: "res" },
      cmd: (vars) => server(Number(vars.req), true),
    });
    expect([r.inputError, r.outputError, r.stageOutError]).toEqual([undefined, undefined, undefined]);
    expect(r.exitCode).toBe(0);
    expect(new Uint8Array(readFileSync((r.result as { path: string }).path))).toEqual(inverted(ALL_BYTES));
  });

  test("20 MiB through one connection, streamed", async () => {
    const port = await freePort();
    const bytes = random(20 * 1024 * 1024);
    const r = await drive({
      input: { adapter: tcp, params: { tcp_port: port, chunk_size: "1MiB" }, name: "req", source: source("big.bin", bytes) },
      output: { adapter: tcp, params: { tcp_port: port }, name: "res" },
      cmd: () => server(port, true),
    });
    expect([r.inputError, r.outputError]).toEqual([undefined, undefined]);
    const got = readFileSync((r.result as { path: string }).path);
    expect(got.length).toBe(bytes.length);
    expect(Bun.hash(got)).toBe(Bun.hash(inverted(bytes)));
  });

  test("an input alone: the process reads it all; its reply is discarded", async () => {
    const port = await freePort();
    const r = await drive({ input: { adapter: tcp, params: { tcp_port: port }, name: "req", source: source("in.bin", random(300_000)) }, cmd: () => server(port, true) });
    expect(r.inputError).toBeUndefined();
    expect(r.stdout.split(" ")[0]).toBe("300000");
  });

  test("chunk_size: no write is larger", async () => {
    const port = await freePort();
    const proc = Bun.spawn(server(port, false), { stdout: "pipe" });
    const src = source("chunks.bin", random(100_000));
    let socket;
    for (;;) {
      socket = await new Promise<ReturnType<typeof createConnection> | undefined>((resolve) => {
        const s = createConnection({ port, host: "127.0.0.1" }).once("connect", () => resolve(s)).once("error", () => resolve(undefined));
      });
      if (socket) break;
      await Bun.sleep(50);
    }
    const sizes: number[] = [];
    const write = socket.write.bind(socket);
    socket.write = ((chunk: Uint8Array, ...rest: never[]) => (sizes.push(chunk.length), write(chunk, ...rest))) as typeof socket.write;
    const sent = await sendFile(socket, src.path, v.parse(tcp.parameters, { tcp_port: port, chunk_size: "10KB" }).chunk_size, new AbortController().signal);
    socket.end();
    expect((await new Response(proc.stdout).text()).split(" ")[0]).toBe("100000");
    expect(sent).toBe(100_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10_000);
    expect(sizes.length).toBe(10);
  });

  test("a process that never listens: the timeout, then the process is left alone", async () => {
    const port = await freePort();
    const t0 = Date.now();
    const r = await drive({
      input: { adapter: tcp, params: { tcp_port: port, connect_timeout: 1 }, name: "req", source: source("x.bin", ALL_BYTES) },
      cmd: () => ["sleep", "2"],
    });
    expect(r.inputError?.message).toBe(`the process did not listen on port ${port} within 1 s`);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test("a process that ends before listening: says so at once", async () => {
    const port = await freePort();
    const t0 = Date.now();
    const r = await drive({ output: { adapter: tcp, params: { tcp_port: port }, name: "res" }, cmd: () => ["true"] });
    expect(r.outputError?.message).toBe(`the process ended before it listened on port ${port}`);
    expect(r.stageOutError?.message).toContain("nothing was read from port");
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test("a process that closes without reading: a clear failure of the input", async () => {
    const port = await freePort();
    const closer = `import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("127.0.0.1",${port}));s.listen(1)\nc,_=s.accept();c.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,b"\\x01\\0\\0\\0\\0\\0\\0\\0");c.close()`;
    const r = await drive({ input: { adapter: tcp, params: { tcp_port: port }, name: "req", source: source("big2.bin", random(8 * 1024 * 1024)) }, cmd: () => ["python3", "-c", closer] });
    expect(r.inputError?.message).toMatch(new RegExp(`^the process closed port ${port} after .* of 8.0 MiB`));
  });
});

describe("pipe", () => {
  const sh = (script: string, ...args: string[]) => ["sh", "-c", script, ...args];

  test("input: all 256 byte values through the FIFO to cat", async () => {
    const r = await drive({ input: { adapter: pipe, params: { file_path: "${data}" }, name: "data", source: source("p.bin", ALL_BYTES) }, cmd: (vars) => sh('cat "$0" > got.bin', vars.data) });
    expect(r.inputError).toBeUndefined();
    expect(new Uint8Array(readFileSync(join(r.input!.ctx.workdir, "got.bin")))).toEqual(ALL_BYTES);
  });

  test("input to output, FIFO to FIFO: 50 MiB", async () => {
    const bytes = random(50 * 1024 * 1024);
    const r = await drive({
      input: { adapter: pipe, params: {}, name: "in", source: source("p50.bin", bytes) },
      output: { adapter: pipe, params: { file_path: "sub/out.fifo", name: "out" }, name: "out" },
      cmd: (vars) => sh('cat "$0" > "$1"', vars.in, vars.out),
    });
    expect([r.inputError, r.outputError, r.stageOutError]).toEqual([undefined, undefined, undefined]);
    const got = readFileSync((r.result as { path: string }).path);
    expect(got.length).toBe(bytes.length);
    expect(Bun.hash(got)).toBe(Bun.hash(bytes));
  });

  test("an event loop that keeps running while flue waits for the process to open the FIFO", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const r = await drive({ input: { adapter: pipe, params: {}, name: "in", source: source("late.bin", ALL_BYTES) }, cmd: (vars) => sh('sleep 0.5; cat "$0" > /dev/null', vars.in) });
    clearInterval(timer);
    expect(r.inputError).toBeUndefined();
    expect(ticks).toBeGreaterThan(20);
  });

  test("a process that ignores its FIFOs: both end with the process; the input says so, the output is empty", async () => {
    const t0 = Date.now();
    const r = await drive({
      input: { adapter: pipe, params: {}, name: "in", source: source("ign.bin", ALL_BYTES) },
      output: { adapter: pipe, params: {}, name: "out" },
      cmd: () => ["sleep", "0.3"],
    });
    expect(r.inputError?.message).toBe("the process ended without reading its input from the FIFO in");
    expect(r.outputError).toBeUndefined();
    expect(readFileSync((r.result as { path: string }).path).length).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test("waiting for the process to open its FIFOs holds none of flue's file I/O threads", async () => {
    // Four pipe jobs whose processes open their FIFOs only after a while: meanwhile flue's own file I/O goes on.
    // (Each its own names: the harness gives every drive the same job id.)
    const slow = Array.from({ length: 4 }, (_, i) =>
      drive({
        input: { adapter: pipe, params: {}, name: `in${i}`, source: source(`slow${i}.bin`, ALL_BYTES) },
        output: { adapter: pipe, params: {}, name: `out${i}` },
        cmd: (vars) => ["sh", "-c", 'sleep 1; cat "$0" > "$1"', vars[`in${i}`], vars[`out${i}`]],
      }),
    );
    await Bun.sleep(200);
    const t0 = performance.now();
    await Bun.file("/etc/hostname").text();
    await import("node:fs/promises").then((fsp) => fsp.readFile("/etc/hostname"));
    expect(performance.now() - t0).toBeLessThan(300);
    for (const r of await Promise.all(slow)) expect(new Uint8Array(readFileSync((r.result as { path: string }).path))).toEqual(ALL_BYTES);
  });

  test("a link the process puts where its FIFO was is not followed", async () => {
    const outside = tempDir("flue-pipe-victim-");
    const victim = join(outside.path, "victim");
    writeFileSync(victim, "keep me");
    try {
      const r = await drive({
        input: { adapter: pipe, params: {}, name: "in", source: source("evil.bin", ALL_BYTES) },
        cmd: (vars) => ["sh", "-c", `rm -f "$0" && ln -s ${victim} "$0" && sleep 0.3`, vars.in],
      });
      expect(r.inputError?.message).toMatch(/link|no longer a FIFO|ended without reading/);
      expect(readFileSync(victim, "utf8")).toBe("keep me");
    } finally {
      outside.remove();
    }
  });
});

describe("append", () => {
  test("events while the process runs, in order, adding up to the file", async () => {
    const r = await drive({
      output: { adapter: append, params: { file_path: "${log}" }, name: "log" },
      cmd: (vars) => ["sh", "-c", 'for i in 1 2 3; do echo line$i >> "$0"; sleep 0.3; done', vars.log],
    });
    const events = r.output!.events.filter((e) => e.type === "output");
    expect(r.eventsAtExit).toBeGreaterThanOrEqual(3);
    expect(events.map((e) => e.fields.data).join("")).toBe("line1\nline2\nline3\n");
    let offset = 0;
    for (const e of events) {
      expect(e.fields).toMatchObject({ name: "log", offset, encoding: "utf8" });
      offset += e.fields.bytes as number;
    }
    expect(readFileSync((r.result as { path: string }).path, "utf8")).toBe("line1\nline2\nline3\n");
  });

  test("chunk_bytes caps an event at the newest bytes, counting what it skipped; binary pieces are base64", async () => {
    const r = await drive({
      output: { adapter: append, params: { chunk_bytes: 10 }, name: "bin" },
      cmd: (vars) => ["sh", "-c", `printf 'abcdefghijklmnopqrstuvwxy\\377\\376' >> "$0"`, vars.bin],
    });
    const events = r.output!.events.filter((e) => e.type === "output");
    // One append, one event: its last 10 bytes, and the 17 before them counted as skipped.
    expect(events).toHaveLength(1);
    expect(events[0].fields).toMatchObject({ offset: 17, bytes: 10, skipped: 17, encoding: "base64" });
    const file = readFileSync((r.result as { path: string }).path);
    expect(file.length).toBe(27);
    expect(Buffer.from(events[0].fields.data as string, "base64")).toEqual(file.subarray(17));
  });

  test("a link the process puts in place of its file is not followed: nothing of the target is published", async () => {
    const outside = tempDir("flue-append-secret-");
    writeFileSync(join(outside.path, "secret"), "TOP-SECRET");
    try {
      // The file itself a link out; or the file inside a directory that is a link out.
      for (const [filePath, target, where] of [
        ["${out}", join(outside.path, "secret"), (p: string) => p],
        ["d/secret", outside.path, (p: string) => dirname(p)],
      ] as const) {
        const r = await drive({
          output: { adapter: append, params: { file_path: filePath }, name: "out" },
          cmd: (vars) => ["sh", "-c", `rm -rf "$0" && ln -s ${target} "$0" && sleep 0.3`, where(vars.out)],
        });
        expect(JSON.stringify(r.output!.events)).not.toContain("TOP-SECRET");
        expect(String(r.outputError?.message ?? r.stageOutError?.message)).toMatch(/link|outside/);
      }
    } finally {
      outside.remove();
    }
  });

  test("a process that never writes the file", async () => {
    const r = await drive({ output: { adapter: append, params: { file_path: "logs/run.log" }, name: "log" }, cmd: () => ["true"] });
    expect(r.outputError).toBeUndefined();
    expect(r.output!.events).toEqual([]);
    expect(r.stageOutError?.message).toBe("the process did not write logs/run.log");
  });
});

describe("nats", () => {
  let port: number;
  let monitor: number;
  let server: Bun.Subprocess;
  const url = () => `nats://127.0.0.1:${port}`;

  beforeAll(async () => {
    port = await freePort();
    monitor = await freePort();
    server = Bun.spawn(["nats-server", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor)], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${monitor}/varz`).then((r) => r.ok, () => false)) return;
      await Bun.sleep(50);
    }
    throw new Error("nats-server did not start");
  });
  afterAll(async () => {
    server.kill();
    await server.exited;
  });

  const subscriptions = async () => ((await (await fetch(`http://127.0.0.1:${monitor}/subsz`)).json()) as { num_subscriptions: number }).num_subscriptions;

  test("input: 3 messages, one a line each, fed to cat on stdin", async () => {
    const before = await subscriptions();
    const publisher = await connect({ servers: url() });
    const published = (async () => {
      while ((await subscriptions()) <= before) await Bun.sleep(20);
      for (const m of ["one", "two", "\u00ff\u0000three"]) publisher.publish("in.data", m);
      await publisher.flush();
    })();
    const r = await drive({ input: { adapter: nats, params: { servers: url(), subject: "in.data", count: 3, timeout: 10 }, name: "in", source: null }, cmd: () => ["cat"] });
    await published;
    await publisher.close();
    expect(r.inputError).toBeUndefined();
    expect(r.stdout).toBe("one\ntwo\n\u00ff\u0000three\n");
    expect(readFileSync(r.input!.ctx.vars.in, "utf8")).toBe(r.stdout);
  });

  test("input: fewer than count within the timeout is a warning, not a hang", async () => {
    const r = await drive({ input: { adapter: nats, params: { servers: [url()], subject: "in.none", count: 2, timeout: 0.3, split: "none" }, name: "in", source: null }, cmd: () => ["cat"] });
    expect(r.stdout).toBe("");
    expect(r.input!.messages).toEqual([{ text: "received 0 of 2 messages on in.none within 0.3 s", level: "warning" }]);
  });

  test("output: 3 MiB published whole, in max_payload pieces, bytes exact", async () => {
    const bytes = random(3 * 1024 * 1024 + 17);
    writeFileSync(join(tmp, "nats-out.bin"), bytes);
    const sub = await connect({ servers: url() });
    const received: Uint8Array[] = [];
    const s = sub.subscribe("out.data");
    const done = (async () => {
      let n = 0;
      for await (const m of s) {
        received.push(m.data);
        if ((n += m.data.length) >= bytes.length) break;
      }
    })();
    await sub.flush();
    const r = await drive({ output: { adapter: nats, params: { servers: url(), subject: "out.data", split: "none", file_path: "${out}" }, name: "out" }, cmd: (vars) => ["cp", join(tmp, "nats-out.bin"), vars.out] });
    await done;
    await sub.close();
    expect(r.stageOutError).toBeUndefined();
    expect(received.length).toBe(4);
    expect(Bun.hash(Buffer.concat(received))).toBe(Bun.hash(bytes));
    expect(statSync((r.result as { path: string }).path).size).toBe(bytes.length);
  });

  test("output: one message per line", async () => {
    const sub = await connect({ servers: url() });
    const s = sub.subscribe("out.lines", { max: 4 });
    const got = (async () => {
      const all: string[] = [];
      for await (const m of s) all.push(m.string());
      return all;
    })();
    await sub.flush();
    const r = await drive({ output: { adapter: nats, params: { servers: url(), subject: "out.lines" }, name: "out" }, cmd: (vars) => ["sh", "-c", 'printf "a\\nbb\\n\\nlast" > "$0"', vars.out] });
    expect(r.stageOutError).toBeUndefined();
    expect(await got).toEqual(["a", "bb", "", "last"]);
    await sub.close();
  });

  test("bind: an input needs count or timeout; an output no wildcard", () => {
    expect(nats.bind!(v.parse(nats.parameters, { subject: "a.b" }), "input").problems).toEqual([{ path: "count", message: expect.stringContaining("give count, timeout or both") }]);
    expect(nats.bind!(v.parse(nats.parameters, { subject: "a.*" }), "output").problems?.[0].path).toBe("subject");
  });

  test("a server that is not there", async () => {
    const closed = await freePort();
    const r = drive({ input: { adapter: nats, params: { servers: `nats://127.0.0.1:${closed}`, subject: "x", count: 1 }, name: "in", source: null }, cmd: () => ["true"] });
    expect(r).rejects.toThrow(`cannot connect to NATS at nats://127.0.0.1:${closed}`);
    await r.catch(() => {});
  });
});
