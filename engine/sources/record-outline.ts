/**
 * A listed record (wrong field count, clean quoting, UTF-8) as the rejects pass shows it to DuckDB's reader: its
 * fields and their quoting as they are, each field's text cut to its first few bytes. The reader rejects it for the
 * same field count with the same messages, but never meets its length: DuckDB 1.5.6 keeps the first 10,000 bytes of a
 * rejected line in its reject table, cut inside a character when one straddles that byte, and then fails the whole
 * read ("Invalid unicode … in segment statistics update", duckdb/duckdb#10929) — one long malformed record of
 * non-ASCII text made the whole file UNREADABLE.
 */

/** Records up to this many bytes are shown as they are (each field of a longer one keeps `FIELD_BYTES`). */
export const OUTLINE_ABOVE_BYTES = 4096;
const FIELD_BYTES = 8;
const QUOTE = 0x22;

/**
 * The record with each field cut to its first `FIELD_BYTES` bytes (never inside a character, nor between the two
 * quotes of an escaped one), its delimiters, quotes and line end kept; the record itself when it is short. Its quoting
 * must be clean (a quote opens a field or closes it, doubled inside one), as the field-count listing's is.
 */
export function outlineRecord(bytes: Buffer, delimiter: number): Buffer {
  if (bytes.length <= OUTLINE_ABOVE_BYTES) return bytes;
  const out: number[] = [];
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  let i = 0;
  for (;;) {
    // One field from `i`: quoted (to its closing quote) or bare (to the next delimiter).
    let kept = 0;
    const keep = (from: number, to: number): void => {
      for (let k = from; k < to; k++) out.push(bytes[k] as number);
      kept += to - from;
    };
    if (bytes[i] === QUOTE) {
      out.push(QUOTE);
      i++;
      while (i < end) {
        if (bytes[i] === QUOTE) {
          if (bytes[i + 1] !== QUOTE) break; // its closing quote
          if (kept < FIELD_BYTES) keep(i, i + 2);
          i += 2;
          continue;
        }
        const next = i + characterBytes(bytes, i);
        if (kept < FIELD_BYTES) keep(i, next);
        i = next;
      }
      out.push(QUOTE);
      i++;
    }
    while (i < end && bytes[i] !== delimiter) {
      const next = i + characterBytes(bytes, i);
      if (kept < FIELD_BYTES) keep(i, next);
      i = next;
    }
    if (i >= end) break;
    out.push(delimiter);
    i++;
  }
  for (let k = end; k < bytes.length; k++) out.push(bytes[k] as number);
  return Buffer.from(out);
}

/** Bytes of the UTF-8 character starting at `i` (1 for a byte that starts none). */
function characterBytes(bytes: Buffer, i: number): number {
  const b = bytes[i] as number;
  const n = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
  return Math.min(n, bytes.length - i);
}
