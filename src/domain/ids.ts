/**
 * Job ids: 26 lowercase Crockford base32 characters, time-ordered (48 bits of
 * milliseconds, then 80 random bits), so any instance of a fleet can make
 * one without asking the others, and newer ids sort after older ones.
 */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export function newId(now = Date.now()): string {
  let out = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 0; i < 16; i++) out += ALPHABET[bytes[i] & 31];
  return out;
}

export const ID_PATTERN = /^[0-9a-hjkmnp-tv-z]{26}$/;
