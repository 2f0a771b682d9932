/** The password of --password-stdin: the first line of stdin, not echoed when typed at a terminal. */
import { usage } from "./args.ts";

async function firstLine(): Promise<string> {
  const reader = Bun.stdin.stream().getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel().catch(() => {});
  return text.split("\n")[0].replace(/\r$/, "");
}

const stty = (arg: string) => Bun.spawnSync({ cmd: ["stty", arg], stdin: "inherit", stdout: "ignore", stderr: "ignore" });

export async function readPassword(): Promise<string> {
  const tty = process.stdin.isTTY === true;
  if (tty) {
    process.stderr.write("password: ");
    stty("-echo");
  }
  let line: string;
  try {
    line = await firstLine();
  } finally {
    if (tty) {
      stty("echo");
      process.stderr.write("\n");
    }
  }
  if (line === "") throw usage("--password-stdin: no password on stdin (give it as the first line)");
  return line;
}
