/** A value made on first use: statements compile when first needed, so start-up stays short. */
export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
