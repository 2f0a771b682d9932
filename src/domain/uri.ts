/** URIs as flue shows them. */

/**
 * A URI without the user and password it may carry (`https://u:p@host/x` →
 * `https://host/x`): what the API, the pages, events and caches show and
 * keep. The job keeps the URI whole to fetch it.
 */
export function withoutCredentials(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return uri;
  }
  if (!url.username && !url.password) return uri;
  url.username = "";
  url.password = "";
  return url.href;
}

/** Inputs or outputs as stored (`{name: {uri?, ...}}`) with every URI's credentials removed. */
export function inputsShown<T>(metas: T): T {
  if (typeof metas !== "object" || metas === null) return metas;
  return Object.fromEntries(
    Object.entries(metas as Record<string, unknown>).map(([k, m]) =>
      typeof m === "object" && m !== null && typeof (m as { uri?: unknown }).uri === "string" ? [k, { ...m, uri: withoutCredentials((m as { uri: string }).uri) }] : [k, m],
    ),
  ) as T;
}
