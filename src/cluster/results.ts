/**
 * Results anywhere. Every attempt's logs and the outputs flue keeps go to
 * object store bucket `flue_results`, each named by its path under the
 * data dir (`logs/<id>-<n>.stdout`, `jobs/<id>/outputs/<name>`), so any
 * instance serves any job's files as if they were its own. The instance
 * that ran the attempt puts them when it ends, before the end is recorded:
 * whoever sees a job FINISHED finds its files here. Objects expire with the
 * events (--events-max-age) and go with their job when it is deleted.
 *
 * Inputs flue stores at submission (inline text, base64, uploads) go there
 * too, as `jobs/<id>/inputs/<name>`, before the job is made: the instance
 * that runs it fetches those it does not have, so such a job runs where its
 * application's label is and fails over like any other.
 *
 * While a job runs its logs are only on its instance: each instance answers
 * core-NATS requests on `flue.results.<its id>` for a range of one of its
 * files (`{name, offset, max}`, a negative offset counting from the end;
 * at most 64 KiB), replying with the bytes and headers `Flue-Size` and
 * `Flue-Offset`, or no headers when it has no such file. That is how
 * `?follow=1` and the UI's live tail read a job running elsewhere.
 */
import { jetstream, jetstreamManager, StorageType, type ConsumerMessages, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { Objm, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
import { headers, nanos, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { existsSync, mkdirSync, promises as fsp, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { isPlainFile, readFrom, sizeOf, type JobFiles } from "../executor/index.ts";
import { natsConnected } from "./connection.ts";
import { RANGE_MAX, TAIL_SHARED, tailName, type FileRange, type SharedFile, type StoredInput } from "./record.ts";

export const RESULTS_BUCKET = "flue_results";
const RESULTS_STREAM = `OBJ_${RESULTS_BUCKET}`;
/** How long a reader waits for the instance that holds the file. */
const RANGE_TIMEOUT_MS = 2000;
/** Chunks (128 KiB each) fetched ahead of a reader: a slow download holds no more than this in memory. */
const READ_AHEAD = 8;
/** Objects put at once by one submission: a bulk of inline inputs does not flood the server. */
const PUT_CONCURRENCY = 16;

const subject = (instance: string) => `flue.results.${instance}`;

/** What other instances may read of this one's data dir: logs and kept outputs, nothing else. */
const SERVABLE = /^(logs\/[^/]+\.(stdout|stderr)|jobs\/[^/]+\/outputs\/[^/]+)$/;
const servable = (name: unknown): name is string => typeof name === "string" && SERVABLE.test(name) && !name.split("/").includes("..");

interface RangeRequest {
  name: string;
  offset: number;
  max: number;
}

export class SharedResults {
  private readonly js: JetStreamClient;
  private sub?: Subscription;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly os: ObjectStore,
    private readonly files: JobFiles,
  ) {
    this.js = jetstream(nc);
  }

  /** Opens the bucket (made by the first instance; its max age follows the last one started, as the events stream's does) and serves this instance's files. */
  static async start(nc: NatsConnection, files: JobFiles, self: string, maxAgeMs: number): Promise<SharedResults> {
    const os = await new Objm(nc).create(RESULTS_BUCKET, { ttl: nanos(maxAgeMs), storage: StorageType.File });
    const jsm = await jetstreamManager(nc);
    const { config } = await jsm.streams.info(RESULTS_STREAM);
    if (config.max_age !== nanos(maxAgeMs)) await jsm.streams.update(RESULTS_STREAM, { ...config, max_age: nanos(maxAgeMs) });
    const r = new SharedResults(nc, os, files);
    r.sub = nc.subscribe(subject(self));
    void (async () => {
      for await (const m of r.sub!) {
        try {
          r.answer(m);
        } catch {
          m.respond(); // the file went meanwhile (its job was deleted): as if it never was
        }
      }
    })();
    return r;
  }

  private nameOf(path: string): string {
    return relative(this.files.root, path);
  }

  /**
   * Puts an ended attempt's logs (empty ones too: a missing object then
   * means "not shared", never "no output") and the file outputs flue kept
   * (a stream output is one of the logs). Throws when NATS is away or does
   * not take them.
   */
  async share(jobId: string, attempt: number): Promise<void> {
    if (!natsConnected(this.nc)) throw new Error("NATS is unreachable");
    const logs = [this.files.attemptFile(jobId, attempt, "stdout"), this.files.attemptFile(jobId, attempt, "stderr")];
    const paths = [...logs];
    for (const name of this.keptOutputs(jobId)) paths.push(this.files.output(jobId, name));
    const puts = paths.map((path) => {
      const name = this.nameOf(path);
      return existsSync(path) ? this.os.put({ name }, Bun.file(path).stream()) : this.os.putBlob({ name }, null);
    });
    for (const path of logs) {
      const size = sizeOf(path);
      if (size > TAIL_SHARED) puts.push(this.os.put({ name: tailName(this.nameOf(path)) }, Bun.file(path).slice(size - TAIL_SHARED).stream()));
    }
    await Promise.all(puts);
  }

  /** Names of the job's kept file outputs: what its outputs/ holds (most jobs have none, nor the directory). */
  private keptOutputs(jobId: string): string[] {
    try {
      return readdirSync(this.files.outputsDir(jobId));
    } catch {
      return [];
    }
  }

  /**
   * Puts the inputs of jobs about to be made, before they exist (a few at
   * a time). Throws when NATS is away or does not take them all; those it
   * took belong to no job and expire with the bucket's max age.
   */
  async shareInputs(inputs: StoredInput[]): Promise<void> {
    if (!natsConnected(this.nc)) throw new Error("NATS is unreachable");
    const left = [...inputs];
    const putNext = async (): Promise<void> => {
      for (let i = left.shift(); i; i = left.shift()) {
        const meta = { name: this.nameOf(this.files.input(i.jobId, i.name)) };
        await (i.data instanceof Uint8Array ? this.os.putBlob(meta, i.data) : this.os.put(meta, i.data.stream()));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, inputs.length) }, putNext));
  }

  /**
   * Fetches a stored input this instance does not have (the job was
   * submitted elsewhere) into place: streamed to a file beside it, renamed
   * once whole and matching its digest. False when the bucket does not
   * have it; throws when NATS is away or the object is damaged.
   */
  async fetchInput(jobId: string, name: string): Promise<boolean> {
    const path = this.files.input(jobId, name);
    const file = await this.open(this.nameOf(path));
    if (!file) return false;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const part = join(dirname(path), `.${basename(path)}.part`);
    const out = await fsp.open(part, "w", 0o600);
    try {
      for await (const chunk of file.stream) await out.write(chunk);
      await out.close();
      renameSync(part, path);
      return true;
    } catch (e) {
      await out.close().catch(() => {});
      rmSync(part, { force: true });
      throw e;
    }
  }

  /** Removes a deleted job's objects; what cannot be removed now expires with the bucket's max age. */
  async remove(job: { id: string; attempts: number; outputs: unknown; inputs: unknown }): Promise<void> {
    const names: string[] = [];
    for (let n = 1; n <= job.attempts; n++) names.push(this.nameOf(this.files.attemptFile(job.id, n, "stdout")), this.nameOf(this.files.attemptFile(job.id, n, "stderr")));
    for (const name of Object.keys((job.outputs ?? {}) as object)) names.push(this.nameOf(this.files.output(job.id, name)));
    for (const [name, meta] of Object.entries((job.inputs ?? {}) as Record<string, { source?: string }>)) {
      if (meta?.source !== "uri") names.push(this.nameOf(this.files.input(job.id, name)));
    }
    const tails = names.filter((n) => n.startsWith("logs/")).map(tailName);
    const failed = natsConnected(this.nc)
      ? (await Promise.allSettled([...names.map((name) => this.os.delete(name)), ...tails.map((name) => this.os.delete(name).catch(() => {}))])).find((r) => r.status === "rejected")?.reason
      : new Error("NATS is unreachable");
    if (failed) console.error(`flue: could not remove the shared inputs, logs and outputs of deleted job ${job.id} (${(failed as Error).message}); they expire with --events-max-age`);
  }

  /** A file from the bucket, streamed as the reader takes it; undefined when the bucket does not have it. */
  async open(name: string): Promise<SharedFile | undefined> {
    const info = await this.os.info(name);
    if (!info || info.deleted) return undefined;
    return { size: info.size, stream: this.chunks(info) };
  }

  /**
   * The object's chunks through a pull consumer, a few ahead of the reader
   * (the client's own `get` pushes the whole object at once), checked
   * against the object's digest at the end.
   */
  private chunks(info: ObjectInfo): ReadableStream<Uint8Array> {
    let messages: ConsumerMessages | undefined;
    let next: AsyncIterator<JsMsg> | undefined;
    let left = info.chunks;
    const hash = new Bun.CryptoHasher("sha256");
    const digest = Buffer.from(info.digest.replace(/^SHA-256=/, ""), "base64");
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (left > 0) {
          if (!next) {
            const consumer = await this.js.consumers.get(RESULTS_STREAM, { filter_subjects: `$O.${RESULTS_BUCKET}.C.${info.nuid}` });
            messages = await consumer.consume({ max_messages: READ_AHEAD });
            next = messages[Symbol.asyncIterator]();
          }
          const m = await next.next();
          if (m.done) return controller.error(new Error(`object ${info.name} ended early`));
          left--;
          hash.update(m.value.data);
          controller.enqueue(m.value.data);
          if (left > 0) return;
          messages!.stop();
        }
        if (!Buffer.from(hash.digest()).equals(digest)) return controller.error(new Error(`object ${info.name} does not match its digest`));
        controller.close();
      },
      cancel: () => messages?.stop(),
    }, { highWaterMark: 0 }); // no consumer until the first read
  }

  /** Asks `instance` for a range of one of its files; undefined when it has no such file, rejects when it does not answer. */
  async range(instance: string, name: string, offset: number, max: number): Promise<FileRange | undefined> {
    const request: RangeRequest = { name, offset, max };
    const m = await this.nc.request(subject(instance), JSON.stringify(request), { timeout: RANGE_TIMEOUT_MS });
    const size = m.headers?.get("Flue-Size");
    if (!size) return undefined;
    return { size: Number(size), offset: Number(m.headers!.get("Flue-Offset")), bytes: m.data };
  }

  /** Answers another instance's request for a range of a file here. */
  private answer(m: Msg): void {
    let request: RangeRequest;
    try {
      request = m.json<RangeRequest>();
    } catch {
      return void m.respond();
    }
    const path = join(this.files.root, String(request.name));
    if (!servable(request.name) || !isPlainFile(path)) return void m.respond();
    const size = sizeOf(path);
    const offset = Math.min(size, request.offset < 0 ? Math.max(0, size + request.offset) : request.offset || 0);
    const bytes = readFrom(path, offset, Math.max(0, Math.min(RANGE_MAX, request.max || 0)));
    const h = headers();
    h.set("Flue-Size", String(size));
    h.set("Flue-Offset", String(offset));
    m.respond(bytes, { headers: h });
  }

  /** Stops answering for this instance's files. */
  stop(): void {
    this.sub?.unsubscribe();
  }
}
