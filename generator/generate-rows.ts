/**
 * Rows of the transactions generator, written straight into byte buffers: formatting is nearly all of the
 * generator's work, so the common (valid) row never builds an intermediate string.
 */

/** The reason the lake should quarantine a generated bad row with (exactly one per bad row). */
export type GeneratedReason =
  'MISSING_REQUIRED' | 'INVALID_CURRENCY' | 'INVALID_AMOUNT' | 'INVALID_TIMESTAMP' | 'MALFORMED_ROW';

export const GENERATED_REASONS: readonly GeneratedReason[] = [
  'MISSING_REQUIRED',
  'INVALID_CURRENCY',
  'INVALID_AMOUNT',
  'INVALID_TIMESTAMP',
  'MALFORMED_ROW',
];

export type TransactionField = 'transaction_id' | 'account_id' | 'amount' | 'currency' | 'transaction_timestamp';

export const CANONICAL_ORDER: readonly TransactionField[] = [
  'transaction_id',
  'account_id',
  'amount',
  'currency',
  'transaction_timestamp',
];

/** Canonical field indexes. */
const ID = 0;
const ACCOUNT = 1;
const AMOUNT = 2;
const CURRENCY = 3;
const TIMESTAMP = 4;

export interface Window {
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
}

// ---------------------------------------------------------------------------------------------------------
// Deterministic randomness: the PRNG is re-seeded from (seed, row id) for every row.

export function mix32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32: fast, good enough for test data, fully reproducible. */
class RowRandom {
  private state = 0;

  constructor(private readonly seed: number) {}

  reseed(id: number): void {
    this.state = mix32(this.seed, id);
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Accounts: a home currency each; most are open from the feed's start, the rest open during the feed.

const CURRENCY_WEIGHTS: ReadonlyArray<readonly [string, number]> = [
  ['EUR', 0.4],
  ['USD', 0.25],
  ['GBP', 0.15],
  ['CHF', 0.08],
  ['JPY', 0.05],
  ['CAD', 0.04],
  ['AUD', 0.03],
];

export interface Account {
  id: string;
  currency: string;
  /** Epoch ms of the first possible transaction. */
  opensAt: number;
  idBytes: Buffer;
  currencyBytes: Buffer;
  wholeUnits: boolean;
}

function homeCurrency(seed: number, index: number): string {
  const u = mix32(seed ^ 0x51ed27, index) / 4294967296;
  let acc = 0;
  for (const [code, weight] of CURRENCY_WEIGHTS) {
    acc += weight;
    if (u < acc) return code;
  }
  return 'EUR';
}

export function buildAccounts(seed: number, count: number, feed: Window): Account[] {
  const openFromStart = Math.ceil(count * 0.75);
  const late = count - openFromStart;
  const width = Math.max(3, String(count).length);
  return Array.from({ length: count }, (_, i) => {
    const id = `ACC${String(i + 1).padStart(width, '0')}`;
    const currency = homeCurrency(seed, i);
    return {
      id,
      currency,
      // Late openers are spread evenly over the feed, so some accounts have no balance in its first months.
      opensAt:
        i < openFromStart
          ? feed.start
          : feed.start + Math.floor(((i - openFromStart + 1) / (late + 1)) * (feed.end - feed.start)),
      idBytes: Buffer.from(id, 'latin1'),
      currencyBytes: Buffer.from(currency, 'latin1'),
      wholeUnits: currency === 'JPY',
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Bytes

const DAY_MS = 86_400_000;
const C_0 = 48;
const C_COMMA = 44;
const C_MINUS = 45;
const C_PLUS = 43;
const C_DOT = 46;
const C_COLON = 58;
const C_SPACE = 32;
const C_T = 84;
const C_X = 88;
const C_Z = 90;

/** A chunk being filled. `pos` is the write position. */
export class ByteSink {
  buf: Buffer;
  pos = 0;

  constructor(readonly size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Hands out the filled part and starts a fresh chunk. */
  take(): Buffer {
    const filled = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.size);
    this.pos = 0;
    return filled;
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  bytes(b: Buffer): void {
    for (let i = 0; i < b.length; i++) this.buf[this.pos++] = b[i] as number;
  }

  text(s: string): void {
    this.pos += this.buf.write(s, this.pos, 'latin1'); // every generated character is ASCII
  }

  /** `n` zero-padded to exactly `width` digits. */
  digits(n: number, width: number): void {
    let p = this.pos + width;
    for (let i = 0; i < width; i++) {
      this.buf[--p] = C_0 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.pos += width;
  }

  /** `n` ≥ 0 in as many digits as it needs. */
  number(n: number): void {
    let width = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) width++;
    this.digits(n, width);
  }
}

interface Day {
  /** `YYYY-MM-DD` */
  date: Buffer;
  /** Months since year 0, for bucketing by UTC month. */
  monthNumber: number;
}

class Days {
  private readonly days = new Map<number, Day>();

  of(ms: number): Day {
    const n = Math.floor(ms / DAY_MS);
    let day = this.days.get(n);
    if (!day) {
      const d = new Date(n * DAY_MS);
      day = {
        date: Buffer.from(d.toISOString().slice(0, 10), 'latin1'),
        monthNumber: d.getUTCFullYear() * 12 + d.getUTCMonth(),
      };
      this.days.set(n, day);
    }
    return day;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Rows

/** How a producer wrote the timestamp: ISO with `Z`, ISO with a UTC offset, or plain whole seconds without zone. */
type Style = 0 | 1 | 2;
const ISO: Style = 0;
const OFFSET: Style = 1;
const PLAIN: Style = 2;

const OFFSET_MINUTES: readonly number[] = [120, 60, -300, -240, 330, 540, -180, 600];
const BAD_CURRENCIES = ['EURO', 'XYZ', 'US$', 'DOLLAR'];
const BAD_AMOUNTS = ['12.345', '-7.999', 'abc', 'N/A', '"1,250.00"', '12345678901234567.00', '--5.00'];
const BAD_TIMESTAMPS = [
  '2024-02-30T10:00:00Z',
  '2024-04-31 08:15:00',
  '2024-13-05T09:00:00Z',
  '2024-01-15T25:10:00Z',
  'not-a-date',
  '15/01/2024 10:00',
];

/** One generated row. The factory reuses a single instance: copy what you keep. */
export interface Row {
  id: number;
  account: number;
  cents: number;
  utcMs: number;
  style: Style;
  offsetMinutes: number;
  /** Months since year 0 of the UTC timestamp. */
  monthNumber: number;
  reason: GeneratedReason | undefined;
  /** For a bad row only: the field texts as written (canonical order), and a field too few or too many. */
  badFields: string[] | undefined;
  malformed: 'short' | 'long' | undefined;
}

/**
 * Debits most of the time, small refunds, now and then a salary-sized credit, balanced so that an account's
 * balance drifts only slowly upwards. Yen in whole hundreds.
 */
function amountCents(r: RowRandom, wholeUnits: boolean): number {
  const u = r.next();
  let cents: number;
  if (u < 0.72) cents = -Math.floor((100 + r.next() * 24_900) * (r.next() < 0.15 ? 4 : 1));
  else if (u < 0.968) cents = Math.floor(100 + r.next() * 9_900);
  else cents = Math.floor(150_000 + r.next() * 450_000);
  return wholeUnits ? (cents - (cents % 100)) * 100 : cents;
}

export class RowFactory {
  private readonly random: RowRandom;
  private readonly days = new Days();
  private readonly row: Row = {
    id: 0,
    account: 0,
    cents: 0,
    utcMs: 0,
    style: ISO,
    offsetMinutes: 0,
    monthNumber: 0,
    reason: undefined,
    badFields: undefined,
    malformed: undefined,
  };

  constructor(
    seed: number,
    readonly accounts: readonly Account[],
    private readonly badRowRatio: number,
    private readonly offsetRatio: number,
  ) {
    this.random = new RowRandom(seed);
  }

  monthNumber(ms: number): number {
    return this.days.of(ms).monthNumber;
  }

  make(id: number, window: Window): Row {
    const r = this.random;
    r.reseed(id);
    const row = this.row;
    const bad = r.next() < this.badRowRatio;
    let account = Math.floor(r.next() * this.accounts.length);
    for (let tries = 0; (this.accounts[account] as Account).opensAt >= window.end && tries < 4; tries++) {
      account = Math.floor(r.next() * this.accounts.length);
    }
    if ((this.accounts[account] as Account).opensAt >= window.end) account = 0;
    const acc = this.accounts[account] as Account;
    const earliest = Math.max(window.start, acc.opensAt);
    row.id = id;
    row.account = account;
    row.utcMs = earliest + Math.floor(r.next() * (window.end - earliest));
    row.cents = amountCents(r, acc.wholeUnits);
    const style = r.next();
    row.style = style < this.offsetRatio ? OFFSET : style < this.offsetRatio + 0.1 ? PLAIN : ISO;
    row.offsetMinutes = row.style === OFFSET ? r.pick(OFFSET_MINUTES) : 0;
    if (row.style === PLAIN) row.utcMs -= row.utcMs % 1000; // this producer sends whole seconds, no zone
    row.monthNumber = this.days.of(row.utcMs).monthNumber;
    row.reason = undefined;
    row.badFields = undefined;
    row.malformed = undefined;
    if (bad) this.spoil(row, r);
    return row;
  }

  private spoil(row: Row, r: RowRandom): void {
    const fields = CANONICAL_ORDER.map((_, i) => this.fieldText(row, i));
    const reason = r.pick(GENERATED_REASONS);
    switch (reason) {
      case 'MISSING_REQUIRED':
        fields[Math.floor(r.next() * fields.length)] = '';
        break;
      case 'INVALID_CURRENCY':
        fields[CURRENCY] = r.pick(BAD_CURRENCIES);
        break;
      case 'INVALID_AMOUNT':
        fields[AMOUNT] = r.pick(BAD_AMOUNTS);
        break;
      case 'INVALID_TIMESTAMP':
        fields[TIMESTAMP] = r.pick(BAD_TIMESTAMPS);
        break;
      case 'MALFORMED_ROW':
        row.malformed = r.next() < 0.5 ? 'short' : 'long';
        break;
    }
    row.reason = reason;
    row.badFields = fields;
  }

  private fieldText(row: Row, field: number): string {
    const sink = new ByteSink(64);
    this.writeField(sink, row, field);
    return sink.buf.toString('latin1', 0, sink.pos);
  }

  /** Writes the row and its line ending. */
  write(sink: ByteSink, row: Row, order: readonly number[], lineEnding: Buffer): void {
    if (row.badFields) {
      const f = row.badFields;
      const fields = row.malformed === 'short' ? order.slice(0, -1) : order;
      sink.text(fields.map((i) => f[i]).join(',') + (row.malformed === 'long' ? ',EXTRA' : ''));
    } else {
      for (let i = 0; i < order.length; i++) {
        if (i) sink.byte(C_COMMA);
        this.writeField(sink, row, order[i] as number);
      }
    }
    sink.bytes(lineEnding);
  }

  private writeField(sink: ByteSink, row: Row, field: number): void {
    const acc = this.accounts[row.account] as Account;
    switch (field) {
      case ID:
        sink.byte(C_T);
        sink.byte(C_X);
        sink.digits(row.id, 10);
        return;
      case ACCOUNT:
        sink.bytes(acc.idBytes);
        return;
      case AMOUNT: {
        const abs = row.cents < 0 ? -row.cents : row.cents;
        if (row.cents < 0) sink.byte(C_MINUS);
        sink.number(Math.floor(abs / 100));
        if (!acc.wholeUnits) {
          sink.byte(C_DOT);
          sink.digits(abs % 100, 2);
        }
        return;
      }
      case CURRENCY:
        sink.bytes(acc.currencyBytes);
        return;
      case TIMESTAMP:
        this.writeTimestamp(sink, row);
        return;
    }
  }

  private writeTimestamp(sink: ByteSink, row: Row): void {
    const local = row.utcMs + row.offsetMinutes * 60_000;
    sink.bytes(this.days.of(local).date);
    sink.byte(row.style === PLAIN ? C_SPACE : C_T);
    const seconds = Math.floor((local - Math.floor(local / DAY_MS) * DAY_MS) / 1000);
    sink.digits(Math.floor(seconds / 3600), 2);
    sink.byte(C_COLON);
    sink.digits(Math.floor(seconds / 60) % 60, 2);
    sink.byte(C_COLON);
    sink.digits(seconds % 60, 2);
    if (row.style === PLAIN) return;
    sink.byte(C_DOT);
    sink.digits(local % 1000, 3);
    if (row.style === ISO) {
      sink.byte(C_Z);
      return;
    }
    const abs = Math.abs(row.offsetMinutes);
    sink.byte(row.offsetMinutes < 0 ? C_MINUS : C_PLUS);
    sink.digits(Math.floor(abs / 60), 2);
    sink.byte(C_COLON);
    sink.digits(abs % 60, 2);
  }
}
