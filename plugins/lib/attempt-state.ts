/**
 * What an adapter's hooks pass one another within one attempt: stageIn sees
 * the staged source but attach does not, and two bindings may share a
 * connection. Keyed by job, attempt and a key the adapter chooses; an
 * adapter's cleanup deletes its entries.
 */
import type { AdapterContext } from "flue/plugin";

export function attemptState<T>() {
  const entries = new Map<string, T>();
  const keyOf = (ctx: AdapterContext, key: string) => `${ctx.jobId}/${ctx.attempt}/${key}`;
  return {
    get: (ctx: AdapterContext, key: string): T | undefined => entries.get(keyOf(ctx, key)),
    set: (ctx: AdapterContext, key: string, value: T): T => (entries.set(keyOf(ctx, key), value), value),
    take(ctx: AdapterContext, key: string): T | undefined {
      const value = entries.get(keyOf(ctx, key));
      entries.delete(keyOf(ctx, key));
      return value;
    },
  };
}
