/**
 * HTTPS with --tls-cert/--tls-key, and client certificates with
 * --tls-client-ca: a client without one signed by that CA never gets a
 * response. Certificates are made with openssl into a temp dir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { basic, BINARY, eventually, startBinary, tempDir } from "../helpers/index.ts";

const dir = tempDir("flue-tls-");
const file = (name: string) => join(dir.path, name);
const pem = (name: string) => readFileSync(file(name), "utf8");

function openssl(...args: string[]) {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir.path, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr.toString()}`);
}
/** A key and a certificate for `cn`, signed by `ca` (or self-signed). */
function issue(name: string, cn: string, ca?: string, ext = "") {
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
  const extFile = file(`${name}.ext`);
  writeFileSync(extFile, ext);
  const sign = ca ? ["-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial"] : ["-signkey", `${name}.key`];
  openssl("x509", "-req", "-in", `${name}.csr`, "-out", `${name}.crt`, "-days", "2", ...sign, ...(ext ? ["-extfile", extFile] : []));
}

beforeAll(() => {
  issue("ca", "flue test CA", undefined, "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n");
  issue("server", "localhost", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  issue("client", "alice", "ca", "extendedKeyUsage=clientAuth\n");
  issue("stranger-ca", "another CA", undefined, "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n");
  issue("stranger", "mallory", "stranger-ca", "extendedKeyUsage=clientAuth\n");
});
afterAll(() => dir.remove());

const TLS = () => ["--tls-cert", file("server.crt"), "--tls-key", file("server.key")];
const get = (url: string, tls: Record<string, string>) => fetch(`${url}/api/job/`, { headers: { authorization: basic() }, tls } as RequestInit);

describe("--tls-cert and --tls-key", () => {
  test("flue answers over https and says so", async () => {
    const flue = await startBinary({ args: TLS() });
    try {
      expect(flue.url).toStartWith("https://");
      const res = await get(flue.url, { ca: pem("ca.crt") });
      expect(res.status).toBe(200);
      // Plain http on the same port gets no answer.
      expect(await fetch(flue.url.replace("https:", "http:")).then((r) => r.status, () => "refused")).not.toBe(200);
    } finally {
      await flue.stop();
    }
  }, 30_000);

  test("a certificate without its key is a config error", async () => {
    const r = Bun.spawnSync([BINARY, "serve", "--port", "0", "--data-dir", dir.path, "--tls-cert", file("server.crt")], { stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain("--tls-key");
  });
});

describe("--tls-client-ca", () => {
  test("only a client with a certificate signed by that CA connects", async () => {
    const flue = await startBinary({ args: [...TLS(), "--tls-client-ca", file("ca.crt")] });
    try {
      const withCert = await get(flue.url, { ca: pem("ca.crt"), cert: pem("client.crt"), key: pem("client.key") });
      expect(withCert.status).toBe(200);
      const refused = async (tls: Record<string, string>) => get(flue.url, tls).then((r) => `answered ${r.status}`, (e: Error) => `refused: ${e.message}`);
      expect(await refused({ ca: pem("ca.crt") })).toStartWith("refused");
      expect(await refused({ ca: pem("ca.crt"), cert: pem("stranger.crt"), key: pem("stranger.key") })).toStartWith("refused");
    } finally {
      await flue.stop();
    }
  }, 30_000);
});

describe("--tls-client-user cn", () => {
  test("a certificate whose CN is a flue user signs in as that user, without a password", async () => {
    issue("bob", "bob", "ca", "extendedKeyUsage=clientAuth\n");
    const flue = await startBinary({ args: [...TLS(), "--tls-client-ca", file("ca.crt"), "--tls-client-user", "cn"] });
    try {
      expect(flue.url).toStartWith("https://");
      const as = (who: string, path: string, init: RequestInit = {}) =>
        fetch(`${flue.url}${path}`, { ...init, tls: { ca: pem("ca.crt"), cert: pem(`${who}.crt`), key: pem(`${who}.key`) } } as RequestInit);
      // The admin makes alice over Basic auth (credentials sent win over the certificate).
      const made = await as("client", "/api/user/", {
        method: "POST",
        headers: { authorization: basic(), "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: "alice-password", role: "submitter" }),
      });
      expect(made.status).toBe(201);
      const me = await as("client", "/api/user/me");
      expect(me.status).toBe(200);
      expect(((await me.json()) as { username: string }).username).toBe("alice");
      // A submitter by certificate: not an admin.
      expect((await as("client", "/api/user/")).status).toBe(403);
      // bob's certificate is good, but names no flue user.
      const stranger = await as("bob", "/api/job/");
      expect(stranger.status).toBe(401);
      expect(((await stranger.json()) as { error: { message: string } }).error.message).toContain('"bob"');
      // A browser with alice's certificate is signed in without the form.
      const page = await as("client", "/", { redirect: "manual", headers: { "sec-fetch-mode": "navigate" } });
      expect(page.status).toBe(200);
      expect(page.headers.get("set-cookie")).toMatch(/flue_session=.*HttpOnly.*Secure/i);
      // Anything else with the certificate is let in for that request alone: no session is made.
      const probe = await as("client", "/", { redirect: "manual" });
      expect(probe.status).toBe(200);
      expect(probe.headers.get("set-cookie")).toBeNull();
      // Still no connection at all without a certificate that CA signed.
      const refused = (tls: Record<string, string>) => fetch(`${flue.url}/api/job/`, { tls } as RequestInit).then((r) => `answered ${r.status}`, () => "refused");
      for (let i = 0; i < 10; i++) {
        expect(await refused({ ca: pem("ca.crt") })).toBe("refused");
        expect(await refused({ ca: pem("ca.crt"), cert: pem("stranger.crt"), key: pem("stranger.key") })).toBe("refused");
      }
      // The audit log has the client's address, not nothing.
      const audit = await as("client", "/api/audit/?action=user.create", { headers: { authorization: basic() } });
      expect(((await audit.json()) as { objects: { remote: string }[] }).objects[0].remote).toBe("127.0.0.1");
    } finally {
      await flue.stop();
    }
  }, 60_000);

  test("needs --tls-client-ca", () => {
    const r = Bun.spawnSync([BINARY, "serve", "--port", "0", "--data-dir", dir.path, ...TLS(), "--tls-client-user", "cn"], { stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain("--tls-client-user needs --tls-client-ca");
  });
});

describe("the certificate proxy", () => {
  test("forgets a connection's certificate when it closes, and knows only connections it made", async () => {
    const { startCertProxy } = await import("../../src/http/cert-proxy.ts");
    let proxy: Awaited<ReturnType<typeof startCertProxy>> | undefined;
    const seen: { port: number; cn: string | null | undefined }[] = [];
    const inner = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req, server) => {
        const from = server.requestIP(req)!;
        seen.push({ port: from.port, cn: proxy!.peer(from)?.cn });
        return new Response("ok", { headers: { connection: "close" } });
      },
    });
    proxy = await startCertProxy({ host: "127.0.0.1", port: 0, cert: file("server.crt"), key: file("server.key"), ca: file("ca.crt"), innerPort: inner.port! });
    try {
      const res = await fetch(`https://127.0.0.1:${proxy.port}/`, { tls: { ca: pem("ca.crt"), cert: pem("client.crt"), key: pem("client.key") } } as RequestInit);
      expect(await res.text()).toBe("ok");
      expect(seen[0].cn).toBe("alice");
      // Once that connection has closed, its port names nobody: a local process dialling from it is no one.
      await eventually(() => proxy!.peer({ address: "127.0.0.1", port: seen[0].port }) === undefined, 3_000);
      // A direct connection to the inner server, not made by the proxy, names nobody either.
      await fetch(`http://127.0.0.1:${inner.port}/`);
      expect(seen[1].cn).toBeUndefined();
      // Nor does the right port from another address.
      expect(proxy.peer({ address: "127.0.0.2", port: seen[0].port })).toBeUndefined();
    } finally {
      proxy.stop(true);
      inner.stop(true);
    }
  }, 30_000);
});
