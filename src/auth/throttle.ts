/**
 * Failed sign-in throttling, in memory: after `max` failures for one key
 * within `windowMs`, the key is refused until the window that began with its
 * first failure has passed. A success clears the key. The map is capped so a
 * flood of names cannot grow it without end.
 */
export interface ThrottleOptions {
  /** Failures a key may have in a window; a caller may ask with a multiple of it. */
  max?: number;
  windowMs?: number;
  /** Most keys kept; the oldest go first. */
  cap?: number;
}

export class Throttle {
  private readonly failures = new Map<string, { count: number; first: number }>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly cap: number;

  constructor(opts: ThrottleOptions = {}) {
    this.max = opts.max ?? 5;
    this.windowMs = opts.windowMs ?? 15 * 60_000;
    this.cap = opts.cap ?? 10_000;
  }

  /** Seconds until the key may try again, or 0 when it may now; `times` scales the allowed failures. */
  retryAfter(key: string, times = 1, now = Date.now()): number {
    const f = this.failures.get(key);
    if (!f) return 0;
    const ends = f.first + this.windowMs;
    if (ends <= now) {
      this.failures.delete(key);
      return 0;
    }
    return f.count >= this.max * times ? Math.ceil((ends - now) / 1000) : 0;
  }

  fail(key: string, now = Date.now()): void {
    const f = this.failures.get(key);
    if (f && f.first + this.windowMs > now) {
      f.count++;
      return;
    }
    this.failures.delete(key);
    if (this.failures.size >= this.cap) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(key, { count: 1, first: now });
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
