/** Now as float UNIX seconds, to the microsecond: event timestamps measure sub-millisecond steps. */
export const now = (): number => (performance.timeOrigin + performance.now()) / 1000;
