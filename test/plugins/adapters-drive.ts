/**
 * Runs adapters' hooks in the executor's order around one real process:
 * stageIn → prepare → spawn → every attach concurrently → process ends →
 * attaches settle → stageOut → cleanup (always).
 */
import type { AdapterDefinition, OutputResult, StagedSource } from "flue/plugin";
import * as v from "valibot";
import { adapterContext, spawnIn, type Harness } from "./harness.ts";

export interface Binding {
  adapter: AdapterDefinition;
  params: Record<string, unknown>;
  name: string;
}

export interface Driven {
  input?: Harness;
  output?: Harness;
  exitCode: number | null;
  /** How many events the output had emitted when the process ended. */
  eventsAtExit: number;
  stdout: string;
  /** Each attach's failure (undefined when it resolved). */
  inputError?: Error;
  outputError?: Error;
  result?: OutputResult;
  stageOutError?: Error;
}

/** Drives an input and/or an output binding around `cmd(vars)`, spawned in the (output's or input's) workdir. */
export async function drive(opts: { input?: Binding & { source: StagedSource }; output?: Binding; cmd: (vars: Record<string, string>) => string[]; shared?: boolean }): Promise<Driven> {
  const ih = opts.input && adapterContext(opts.input.name);
  const oh = opts.output && adapterContext(opts.output.name);
  const ip = opts.input && v.parse(opts.input.adapter.parameters, opts.input.params);
  const op = opts.output && v.parse(opts.output.adapter.parameters, opts.output.params);
  const out: Driven = { input: ih, output: oh, exitCode: null, stdout: "", eventsAtExit: 0 };
  try {
    const plan = ih ? await opts.input!.adapter.input!.stageIn(ip, ih.ctx, opts.input!.source) : undefined;
    if (oh) await opts.output!.adapter.output!.prepare?.(op, oh.ctx);
    const vars = { ...ih?.ctx.vars, ...oh?.ctx.vars };
    const cwd = (oh ?? ih)!.ctx.workdir;
    const { proc, running } = spawnIn(opts.cmd(vars), cwd, plan ? plan.stdin : undefined);
    const attaches = [
      ih && opts.input!.adapter.input!.attach ? opts.input!.adapter.input!.attach(ip, ih.ctx, running).catch((e) => void (out.inputError = e)) : undefined,
      oh && opts.output!.adapter.output!.attach ? opts.output!.adapter.output!.attach(op, oh.ctx, running).catch((e) => void (out.outputError = e)) : undefined,
    ];
    const stdout = new Response(proc.stdout as ReadableStream).text();
    out.exitCode = await proc.exited;
    out.eventsAtExit = oh?.events.length ?? 0;
    out.stdout = await stdout;
    await Promise.all(attaches);
    if (oh) {
      try {
        out.result = await opts.output!.adapter.output!.stageOut(op, oh.ctx);
      } catch (e) {
        out.stageOutError = e as Error;
      }
    }
  } finally {
    if (ih) await opts.input!.adapter.cleanup?.(ip, ih.ctx);
    if (oh) await opts.output!.adapter.cleanup?.(op, oh.ctx);
  }
  return out;
}

export { freePort } from "../helpers/index.ts";
