/**
 * Bronze input for the fault cases, with its answer computed here and not by the engine: which records are
 * valid (and exactly what silver must hold for each), which are invalid or malformed (their record numbers
 * and reasons). Deterministic: the same spec always gives the same bytes.
 */

export const CSV_HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';
const CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD'] as const;

export interface InputSpec {
  /** Prefix of every transaction id; give each file of a case its own. */
  idPrefix: string;
  /** Data records (the header is not one). */
  rows: number;
  /** `YYYY-MM` months the valid rows are spread over (their silver partitions). */
  months: readonly string[];
  /** Every n-th record fails validation (one reason each, in turn). @default 37 */
  invalidEvery?: number;
  /** Every n-th record has a field too many or too few (takes precedence over invalid). @default 101 */
  malformedEvery?: number;
}

/** One silver row as text: what the test expects to read back. */
export interface ExpectedRow {
  transaction_id: string;
  account_id: string;
  amount: string;
  currency: string;
  /** `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC. */
  transaction_timestamp: string;
  year: string;
  month: string;
}

export interface QuarantinedRecord {
  record_number: number;
  reason: string;
}

export interface GeneratedInput {
  text: string;
  rows: number;
  valid: ExpectedRow[];
  quarantined: QuarantinedRecord[];
  malformed: number;
  invalid: number;
  reasons: Record<string, number>;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function amountText(cents: number): string {
  const abs = Math.abs(cents);
  return `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${pad(abs % 100, 2)}`;
}

function validRow(spec: InputSpec, i: number): ExpectedRow {
  const monthText = spec.months[i % spec.months.length] as string;
  const [year = '', month = ''] = monthText.split('-');
  const timestamp = `${monthText}-${pad(1 + (i % 28), 2)}T${pad(i % 24, 2)}:${pad((i * 7) % 60, 2)}:${pad((i * 13) % 60, 2)}.${pad(i % 1000, 3)}Z`;
  return {
    transaction_id: `${spec.idPrefix}${pad(i, 7)}`,
    account_id: `ACC${pad(i % 23, 3)}`,
    amount: amountText(((i * 7919) % 200_000) - 100_000),
    currency: CURRENCIES[i % CURRENCIES.length] as string,
    transaction_timestamp: timestamp,
    year,
    month,
  };
}

const fields = (r: ExpectedRow): string[] => [
  r.transaction_id,
  r.account_id,
  r.amount,
  r.currency,
  r.transaction_timestamp,
];

/** Four ways to fail validation, one reason each. */
const INVALID_KINDS: ReadonlyArray<{ reason: string; spoil: (f: string[]) => void }> = [
  { reason: 'INVALID_CURRENCY', spoil: (f) => (f[3] = 'XYZ') },
  { reason: 'INVALID_AMOUNT', spoil: (f) => (f[2] = '12.345') },
  { reason: 'MISSING_REQUIRED', spoil: (f) => (f[1] = '') },
  { reason: 'INVALID_TIMESTAMP', spoil: (f) => (f[4] = '2024-13-01T00:00:00Z') },
];

export function generateInput(spec: InputSpec): GeneratedInput {
  const invalidEvery = spec.invalidEvery ?? 37;
  const malformedEvery = spec.malformedEvery ?? 101;
  const lines = [CSV_HEADER];
  const out: GeneratedInput = {
    text: '',
    rows: spec.rows,
    valid: [],
    quarantined: [],
    malformed: 0,
    invalid: 0,
    reasons: {},
  };
  const reject = (recordNumber: number, reason: string): void => {
    out.quarantined.push({ record_number: recordNumber, reason });
    out.reasons[reason] = (out.reasons[reason] ?? 0) + 1;
  };
  for (let i = 1; i <= spec.rows; i++) {
    const row = validRow(spec, i);
    const f = fields(row);
    if (i % malformedEvery === 0) {
      lines.push((i / malformedEvery) % 2 ? `${f.join(',')},EXTRA` : f.slice(0, -1).join(','));
      out.malformed++;
      reject(i, 'MALFORMED_ROW');
    } else if (i % invalidEvery === 0) {
      const kind = INVALID_KINDS[(i / invalidEvery) % INVALID_KINDS.length] as (typeof INVALID_KINDS)[number];
      kind.spoil(f);
      lines.push(f.join(','));
      out.invalid++;
      reject(i, kind.reason);
    } else {
      lines.push(f.join(','));
      out.valid.push(row);
    }
  }
  out.text = `${lines.join('\n')}\n`;
  return out;
}

/** The expected silver rows as a CSV DuckDB can read with `all_varchar`. */
export function expectedRowsCsv(inputs: readonly GeneratedInput[]): string {
  const columns: ReadonlyArray<keyof ExpectedRow> = [
    'transaction_id',
    'account_id',
    'amount',
    'currency',
    'transaction_timestamp',
    'year',
    'month',
  ];
  const body = inputs.flatMap((input) => input.valid.map((r) => columns.map((c) => r[c]).join(',')));
  return `${columns.join(',')}\n${body.join('\n')}\n`;
}
