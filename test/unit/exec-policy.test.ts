import { describe, expect, test } from "bun:test";
import { realpathSync } from "node:fs";
import { checkExec, execPolicy, execRefusal, resolveExecutable } from "../../src/executor/exec-policy.ts";

describe("execRefusal", () => {
  const policy = { allow: ["/usr/bin/tr", "/opt/tools/"], deny: ["/opt/tools/rm", "/usr/libexec/"] };
  test.each([
    ["/usr/bin/tr", undefined],
    ["/opt/tools/a", undefined],
    ["/opt/tools/sub/b", undefined],
    ["/opt/tools/rm", "refused by --deny-exec"],
    ["/usr/libexec/x", "refused by --deny-exec"],
    ["/usr/bin/sh", "not allowed by --allow-exec"],
    ["/opt/toolsx/a", "not allowed by --allow-exec"], // a directory entry is not a prefix of a name
  ])("%s", (real, why) => {
    const got = execRefusal(real, real, policy);
    if (why === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(why);
  });

  test("an empty allowlist allows anything not denied; a missing executable is refused only with an allowlist", () => {
    expect(execRefusal("x", "/anything", { allow: [], deny: [] })).toBeUndefined();
    expect(execRefusal("x", "/opt/tools/rm", { allow: [], deny: ["/opt/tools/rm"] })).toContain("--deny-exec");
    expect(execRefusal("nope", undefined, { allow: [], deny: ["/bin/sh"] })).toBeUndefined();
    expect(execRefusal("nope", undefined, policy)).toContain("not found");
  });

  test("the message names what was asked and what it resolved to", () => {
    expect(execRefusal("sh", "/usr/bin/dash", { allow: [], deny: ["/usr/bin/dash"] })).toBe("sh (/usr/bin/dash) is refused by --deny-exec");
  });
});

describe("resolving", () => {
  test("a name goes through PATH and symlinks to the real path, as the executor starts it", () => {
    expect(resolveExecutable("sh")).toBe(realpathSync(Bun.which("sh", { PATH: "/usr/local/bin:/usr/bin:/bin" })!));
    expect(resolveExecutable("no-such-program-here")).toBeUndefined();
    expect(resolveExecutable("/bin/sh")).toBe(realpathSync("/bin/sh"));
  });

  test("policy entries are real paths too, so a symlink does not get around a denial", () => {
    const p = execPolicy(["/bin/"], ["sh"]);
    expect(p.allow).toEqual([`${realpathSync("/bin")}/`]);
    expect(checkExec("/bin/sh", p)).toContain("--deny-exec");
    expect(checkExec("sh", p)).toContain("--deny-exec");
    expect(checkExec("tr", p)).toBeUndefined();
    expect(checkExec("/bin/sh", execPolicy([], []))).toBeUndefined();
  });
});
