/**
 * Column defaults as SQL literals and back, for the dialects' DDL and introspectors. DDL cannot take bound
 * parameters, so a default is written as a literal: only a number, a boolean, or a string with every quote
 * doubled, produced from the logical value; nothing else is ever spliced in.
 */
import { SchemaError } from "../../errors.js";
import type { LogicalType } from "../../schema/entity-schema.js";

/** A string as a SQL literal, every single quote doubled, whatever it holds (a name in a catalog query). */
export function quotedText(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * `body` between PostgreSQL dollar quotes whose tag occurs nowhere in it (`$strata$`, else `$strata1$`, ...):
 * a table or column name inside, whatever it holds, cannot close them.
 */
export function dollarQuoted(body: string): string {
  let tag = "$strata$";
  for (let i = 1; body.includes(tag); i++) tag = `$strata${i}$`;
  return `${tag} ${body} ${tag}`;
}

/** A column default string as a SQL literal, every single quote doubled; refuses a NUL, which no dialect stores. */
export function stringLiteral(value: string): string {
  if (value.includes("\u0000")) throw new SchemaError("A column default cannot contain a NUL character");
  return quotedText(value);
}

/** A logical value as a literal of `type`; dates and booleans as the dialect spells them. Throws when the value does not fit. */
export function plainLiteral(type: LogicalType, value: unknown, dateAs: (d: Date) => string, boolAs: (b: boolean) => string): string {
  switch (type) {
    case "integer":
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`expected a finite number, got ${typeof value}`);
      return String(value);
    case "boolean":
      if (typeof value !== "boolean") throw new Error(`expected a boolean, got ${typeof value}`);
      return boolAs(value);
    case "datetime":
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new Error("expected a valid Date");
      return dateAs(value);
    case "json":
      return stringLiteral(JSON.stringify(value));
    case "string":
      if (typeof value !== "string") throw new Error(`expected a string, got ${typeof value}`);
      return stringLiteral(value);
  }
}

/** The content of a leading single-quoted literal, quotes undoubled; undefined when `text` does not start with one. */
export function unquote(text: string): string | undefined {
  const m = /^'((?:[^']|'')*)'/.exec(text);
  return m ? m[1]!.replace(/''/g, "'") : undefined;
}

/** A stored default (catalog text) back as a logical value; undefined when it is not a plain literal. */
export function parsePlainDefault(type: LogicalType, text: string | null, parseDate: (t: string) => Date | undefined): unknown {
  if (text === null || text.toUpperCase() === "NULL") return undefined;
  const raw = text.replace(/^\((.*)\)$/, "$1");
  switch (type) {
    case "integer":
    case "number": {
      const n = Number(raw.replace(/::[\w ]+$/, "").replace(/^'(.*)'$/, "$1"));
      return Number.isFinite(n) ? n : undefined;
    }
    case "boolean":
      return /^(1|true|'t')/i.test(raw) ? true : /^(0|false|'f')/i.test(raw) ? false : undefined;
    case "datetime":
      return parseDate(raw);
    case "json": {
      const s = unquote(raw);
      try {
        return s === undefined ? undefined : JSON.parse(s);
      } catch {
        return undefined;
      }
    }
    case "string":
      return unquote(raw);
  }
}
