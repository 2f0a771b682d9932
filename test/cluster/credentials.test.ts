/**
 * The ways into a protected NATS that the issue names beyond user/password
 * and token (presence.test.ts has those): an nkey seed, a .creds file
 * (operator mode: JWTs signed here with @nats-io/nkeys), and TLS with the
 * server's CA. Each against a real nats-server and the compiled binary; each
 * refused with a clear exit when the credential is wrong or missing.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAccount, createOperator, createUser, type KeyPair } from "@nats-io/nkeys";
import { startBinary, tempDir, type Binary } from "../helpers/index.ts";
import { startNatsServer, type NatsServer } from "./nats-server.ts";
import { refused } from "./fleet.ts";

const dir = tempDir("flue-nats-creds-");
const servers: NatsServer[] = [];
const binaries: Binary[] = [];
afterAll(async () => {
  for (const b of binaries) if (b.proc.exitCode === null) await b.stop();
  for (const s of servers) await s.remove();
  dir.remove();
});

const file = (name: string, text: string) => {
  const path = join(dir.path, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};

/** A flue in the fleet on `url`: it must reach ACTIVE, which needs JetStream (KV, streams) to work through the credential. */
async function joins(url: string, ...args: string[]): Promise<void> {
  const b = await startBinary({ args: ["--nats", url, ...args] });
  binaries.push(b);
  const members = ((await (await b.fetch("/api/instance/")).json()) as { objects: { state: string }[] }).objects;
  expect(members.map((m) => m.state)).toEqual(["ACTIVE"]);
}

/** A flue that must not start: its exit code and what it said. */

const seedOf = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());

test("--nats-nkey: a seed file signs the server's challenge; another seed is refused", async () => {
  const user = createUser();
  const conf = file("nkey.conf", `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
  const nats = await startNatsServer(["-c", conf]);
  servers.push(nats);
  await joins(nats.url, "--nats-nkey", file("user.nk", `${seedOf(user)}\n`));
  const wrong = await refused("--nats", nats.url, "--nats-nkey", file("other.nk", seedOf(createUser())));
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toContain(`cannot connect to NATS at ${nats.url}`);
  expect(wrong.stderr.toLowerCase()).toContain("authorization");
});

/** A JWT as nats-server reads them: header, claims, ed25519 signature of the two by the issuer. */
function jwt(claims: Record<string, unknown>, issuer: KeyPair): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const signed = `${part({ typ: "JWT", alg: "ed25519-nkey" })}.${part({ jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), ...claims })}`;
  return `${signed}.${Buffer.from(issuer.sign(new TextEncoder().encode(signed))).toString("base64url")}`;
}

const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };

/** An operator with a system account and one account allowed JetStream; a .creds file for a user of that account. */
function operatorMode(): { conf: string; creds: (user: KeyPair, account?: KeyPair) => string } {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const accountJwt = (kp: KeyPair, name: string, limits: object) =>
    jwt({ sub: kp.getPublicKey(), name, nats: { limits, default_permissions: { pub: {}, sub: {} }, type: "account", version: 2 } }, operator);
  const conf = file(
    "operator.conf",
    [
      `operator: "${jwt({ sub: operator.getPublicKey(), name: "flue-test", nats: { type: "operator", version: 2 } }, operator)}"`,
      `system_account: ${system.getPublicKey()}`,
      "resolver: MEMORY",
      "resolver_preload: {",
      `  ${system.getPublicKey()}: "${accountJwt(system, "SYS", UNLIMITED)}"`,
      `  ${account.getPublicKey()}: "${accountJwt(account, "flue", { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 })}"`,
      "}",
      "",
    ].join("\n"),
  );
  const creds = (user: KeyPair, issuer = account) =>
    [
      "-----BEGIN NATS USER JWT-----",
      jwt({ sub: user.getPublicKey(), name: "flue", nats: { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: "user", version: 2 } }, issuer),
      "------END NATS USER JWT------",
      "",
      "-----BEGIN USER NKEY SEED-----",
      seedOf(user),
      "------END USER NKEY SEED------",
      "",
    ].join("\n");
  return { conf, creds };
}

test("--nats-creds: a user JWT and seed of an account the operator trusts; a user of an unknown account is refused", async () => {
  const op = operatorMode();
  const nats = await startNatsServer(["-c", op.conf]);
  servers.push(nats);
  await joins(nats.url, "--nats-creds", file("flue.creds", op.creds(createUser())));
  const stranger = await refused("--nats", nats.url, "--nats-creds", file("stranger.creds", op.creds(createUser(), createAccount())));
  expect(stranger.code).toBe(1);
  expect(stranger.stderr).toContain(`cannot connect to NATS at ${nats.url}`);
});

/** A CA and a server certificate for 127.0.0.1 it signed, made with openssl. */
function certificates(): { ca: string; cert: string; key: string; otherCa: string } {
  const run = (...args: string[]) => {
    const r = Bun.spawnSync(["openssl", ...args], { cwd: dir.path, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr.toString()}`);
  };
  for (const name of ["ca", "other-ca"]) {
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.pem`);
  }
  run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr");
  file("san.ext", "subjectAltName=IP:127.0.0.1\n");
  run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem");
  const at = (name: string) => join(dir.path, name);
  return { ca: at("ca.pem"), cert: at("server.pem"), key: at("server.key"), otherCa: at("other-ca.pem") };
}

test("--nats-tls-ca: TLS to a server whose certificate that CA signed; a server it did not sign is refused", async () => {
  const c = certificates();
  const nats = await startNatsServer(["--tls", "--tlscert", c.cert, "--tlskey", c.key]);
  servers.push(nats);
  const url = `tls://127.0.0.1:${nats.port}`;
  await joins(url, "--nats-tls-ca", c.ca);
  const untrusted = await refused("--nats", url, "--nats-tls-ca", c.otherCa);
  expect(untrusted.code).toBe(1);
  expect(untrusted.stderr).toContain(`cannot connect to NATS at ${url}`);
});
