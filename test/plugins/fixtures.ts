/**
 * How the conformance suite exercises the built-in plugins whose fixtures
 * need something a plugin module should not ship in flue's binary: a
 * server, a helper program, a directory the storage is allowed. Keyed like
 * plugins/index.ts; a module's own `conformance` export wins.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConformanceFixture } from "../../src/adapters/api.ts";
import { freePort } from "../helpers/index.ts";
import { startNatsServer } from "../cluster/nats-server.ts";
import { startS3Server } from "./s3-server.ts";

/** Listens once, reads the whole request, answers it back unchanged, then closes. */
const ECHO = [
  "import socket, sys",
  "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
  "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(1)",
  "c, _ = s.accept(); parts = []",
  "while True:",
  "    b = c.recv(1 << 16)",
  "    if not b: break",
  "    parts.append(b)",
  "c.sendall(b''.join(parts)); c.close()",
].join("\n");

/** A port for the tcp fixture's process to listen on: free now, and only one job uses it at a time. */
const tcpPort = freePort();
/** Where the nats fixture's server listens, once its setUp has started it. */
const natsPort = freePort();

export const FIXTURES: Record<string, ConformanceFixture> = {
  pipe: {
    copies: [
      {
        label: "FIFO in, FIFO out (cat)",
        definition: {
          exec: "/bin/sh",
          argv: ["-c", 'cat "$0" > "$1"', "${in}", "${out}"],
          input_adapters: [{ input_type: "pipe", input_parameters: { file_path: "${in}" } }],
          output_adapters: [{ output_type: "pipe", output_parameters: { file_path: "${out}" } }],
        },
      },
    ],
  },
  tcp: {
    copies: [
      {
        label: "one port, in and out (a python3 echo server)",
        definition: {
          exec: "/usr/bin/python3",
          argv: ["-c", ECHO, String(tcpPort)],
          input_adapters: [{ input_type: "tcp", input_parameters: { tcp_port: tcpPort, name: "in" } }],
          output_adapters: [{ output_type: "tcp", output_parameters: { tcp_port: tcpPort, name: "out" } }],
        },
      },
    ],
  },
  append: {
    copies: [
      {
        label: "file_path in, appended file out",
        definition: {
          exec: "/bin/sh",
          argv: ["-c", 'cat "$0" >> "$1"', "${in}", "${out}"],
          input_adapters: [{ input_type: "file", input_parameters: { file_path: "${in}" } }],
          output_adapters: [{ output_type: "append", output_parameters: { file_path: "${out}" } }],
        },
      },
    ],
  },
  nats: {
    // The output direction: the process's stdout published to a subject. (The input direction takes
    // messages, not a file the suite uploads; its own tests publish them: test/plugins/adapters.test.ts.)
    async setUp() {
      const server = await startNatsServer([], natsPort);
      return { tearDown: () => server.remove() };
    },
    copies: [
      {
        label: "file in, published out (cat)",
        definition: {
          exec: "/bin/sh",
          argv: ["-c", 'cat "$0" > "$1"', "${in}", "${out}"],
          input_adapters: [{ input_type: "file", input_parameters: { file_path: "${in}" } }],
          output_adapters: [{ output_type: "nats", output_parameters: { file_path: "${out}", subject: "conformance.out", split: "none", servers: `nats://127.0.0.1:${natsPort}` } }],
        },
      },
    ],
  },
  http: {
    async setUp() {
      // An object store over HTTP: GET and PUT by path, with an ETag the cache revalidates against.
      const objects = new Map<string, Uint8Array>();
      const server = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        async fetch(req) {
          const key = new URL(req.url).pathname;
          if (req.method === "PUT") {
            objects.set(key, new Uint8Array(await req.arrayBuffer()));
            return new Response(null, { status: 201 });
          }
          const body = objects.get(key);
          if (!body) return new Response("no such object", { status: 404 });
          const etag = `"${Bun.hash(body).toString(16)}"`;
          if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag } });
          return new Response(body, { headers: { etag } });
        },
      });
      return {
        base: `http://127.0.0.1:${server.port}/objects/`,
        place: async (key, bytes) => void objects.set(`/objects/${key}`, bytes),
        tearDown: () => void server.stop(true),
      };
    },
  },
  "file-storage": {
    async setUp() {
      const dir = realpathSync(mkdtempSync(join(tmpdir(), "flue-shared-")));
      mkdirSync(join(dir, "objects"));
      return { base: `file://${dir}/objects/`, env: { FLUE_FILE_ALLOW: dir }, tearDown: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  s3: {
    async setUp() {
      const s3 = await startS3Server(["conformance"]);
      return {
        base: "s3://conformance/objects/",
        env: { FLUE_S3_ENDPOINT: s3.endpoint, FLUE_S3_ACCESS_KEY_ID: s3.accessKeyId, FLUE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey },
        tearDown: () => s3.stop(),
      };
    },
  },
};
