/**
 * Shares repeated string values between the rows a load decodes. JSON.parse makes a new string for every
 * value it reads (only very short ones are shared by V8), so a status, a country or a category written on
 * 200,000 rows would otherwise be held 200,000 times; here each distinct value of a column is held once.
 *
 * A column whose values are mostly distinct (ids, emails, free text) gains nothing and would only grow the
 * pool: after {@link SAMPLE} values, a column with more than half of them distinct stops being pooled (its
 * map is dropped), and so does one past {@link MAX_DISTINCT} distinct values. The pool lives only while
 * the directory loads.
 */
import type { ColumnSchema } from "../../schema/entity-schema.js";

/** Values of a column looked at before deciding whether pooling it pays. */
const SAMPLE = 1024;
/** Distinct values of one column past which it is no longer pooled (bounds the pool's own map). */
const MAX_DISTINCT = 65_536;

interface ColumnPool {
  values: Map<string, string> | undefined;
  seen: number;
}

export class StringPool {
  private readonly columns = new Map<ColumnSchema, ColumnPool>();

  /** `value` itself, or an equal string already read for `column` (the one to keep). */
  share(column: ColumnSchema, value: string): string {
    let pool = this.columns.get(column);
    if (pool === undefined) this.columns.set(column, (pool = { values: new Map(), seen: 0 }));
    const values = pool.values;
    if (values === undefined) return value;
    pool.seen++;
    const known = values.get(value);
    if (known !== undefined) return known;
    values.set(value, value);
    if (values.size > MAX_DISTINCT || (pool.seen >= SAMPLE && values.size * 2 > pool.seen)) pool.values = undefined;
    return value;
  }
}
