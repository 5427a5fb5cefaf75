import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from '@jest/globals';
import { OUTLINE_ABOVE_BYTES, outlineRecord } from '../../../engine/sources/record-outline.ts';

const COMMA = ','.charCodeAt(0);

/** The fields of a cleanly quoted record, each as DuckDB reads it (quotes removed, doubled ones made single). */
function fields(record: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  const text = record.replace(/\r?\n$/, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && quoted && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out;
}

/** A deterministic pseudo-random record of `n` fields: bare or quoted, with delimiters, quotes, newlines and non-ASCII inside. */
function randomRecord(seed: number, n: number, fieldChars: number): string {
  let state = seed;
  const next = (k: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % k;
  };
  const alphabet = ['a', 'Z', '7', 'é', '€', '😀', ' '];
  const quotedOnly = [',', '""', '\n', '\r\n'];
  return Array.from({ length: n }, () => {
    const quoted = next(2) === 0;
    let text = '';
    const length = next(fieldChars);
    for (let i = 0; i < length; i++)
      text += quoted && next(5) === 0 ? quotedOnly[next(quotedOnly.length)] : alphabet[next(alphabet.length)];
    return quoted ? `"${text}"` : text;
  }).join(',');
}

describe('outlineRecord', () => {
  it('keeps a record up to the threshold as it is', () => {
    const record = Buffer.from(`${'x'.repeat(OUTLINE_ABOVE_BYTES - 7)},"a,b"\n`);
    expect(outlineRecord(record, COMMA)).toBe(record);
  });

  it('keeps the field count, quoting and line end of a long record, each field cut to a few whole characters', () => {
    for (let seed = 1; seed <= 200; seed++) {
      for (const eol of ['', '\n', '\r\n']) {
        const record = `${randomRecord(seed, 1 + (seed % 9), 2_000)}${eol}`;
        const bytes = Buffer.from(record);
        const outline = outlineRecord(bytes, COMMA);
        if (bytes.length <= OUTLINE_ABOVE_BYTES) continue;
        expect(isUtf8(outline)).toBe(true);
        const original = fields(record);
        const shown = fields(outline.toString('utf8'));
        expect(shown).toHaveLength(original.length);
        shown.forEach((f, i) => expect(original[i]?.startsWith(f)).toBe(true));
        expect(outline.length).toBeLessThanOrEqual(original.length * 16 + eol.length);
        expect(outline.toString('utf8').endsWith(eol)).toBe(true);
      }
    }
  });
});
