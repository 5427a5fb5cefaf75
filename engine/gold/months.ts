/** Calendar months as `YYYY-MM` keys: they sort lexically in time order, like the year/month partition keys. */
export type MonthKey = string;

const MONTH_KEY = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function isMonthKey(value: string): boolean {
  return MONTH_KEY.test(value);
}

export function monthKey(year: string, month: string): MonthKey {
  const key = `${year}-${month}`;
  if (!isMonthKey(key)) throw new Error(`not a year/month partition: year=${year} month=${month}`);
  return key;
}

/** The partition values of a month: `{ year: '2024', month: '01' }`. */
export function monthPartition(key: MonthKey): { year: string; month: string } {
  const m = MONTH_KEY.exec(key);
  if (!m) throw new Error(`not a month key (YYYY-MM): ${key}`);
  return { year: m[1] as string, month: m[2] as string };
}

export function nextMonth(key: MonthKey): MonthKey {
  const { year, month } = monthPartition(key);
  const y = Number(year);
  const m = Number(month);
  return m === 12 ? `${String(y + 1).padStart(4, '0')}-01` : `${year}-${String(m + 1).padStart(2, '0')}`;
}

/** Every month from `first` to `last`, both included. */
export function monthRange(first: MonthKey, last: MonthKey): MonthKey[] {
  monthPartition(first);
  monthPartition(last);
  const out: MonthKey[] = [];
  for (let k = first; k <= last; k = nextMonth(k)) out.push(k);
  return out;
}

export function minMonth(keys: Iterable<MonthKey>): MonthKey | undefined {
  let min: MonthKey | undefined;
  for (const k of keys) if (min === undefined || k < min) min = k;
  return min;
}

export function maxMonth(keys: Iterable<MonthKey>): MonthKey | undefined {
  let max: MonthKey | undefined;
  for (const k of keys) if (max === undefined || k > max) max = k;
  return max;
}
