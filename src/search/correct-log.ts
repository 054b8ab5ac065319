/**
 * The natural logarithm rounded correctly to the nearest double, for BM25's IDF: SQLite computes it with the
 * C library's `log()` (glibc's is correctly rounded but in very rare cases), while V8's `Math.log` can be
 * one unit in the last place off (`Math.log(3)` is 1.0986122886681096, the true value rounds to ...098).
 * One ulp in an IDF is enough to order two rows differently from SQLite, so the engines use this one.
 *
 * How: x = m·2^e with m in [√½, √2), ln x = e·ln 2 + 2·atanh((m − 1)/(m + 1)), in double-double arithmetic
 * (about 106 bits), then rounded once.
 */

/** ln 2 as a double-double. */
const LN2_HI = 0.6931471805599453;
const LN2_LO = 2.3190468138462996e-17;
const SPLITTER = 134217729; // 2^27 + 1

type DoubleDouble = [hi: number, lo: number];

function twoSum(a: number, b: number): DoubleDouble {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

function twoProduct(a: number, b: number): DoubleDouble {
  const p = a * b;
  let t = SPLITTER * a;
  const aHi = t - (t - a);
  const aLo = a - aHi;
  t = SPLITTER * b;
  const bHi = t - (t - b);
  const bLo = b - bHi;
  return [p, aHi * bHi - p + aHi * bLo + aLo * bHi + aLo * bLo];
}

function add(a: DoubleDouble, b: DoubleDouble): DoubleDouble {
  const [s, e] = twoSum(a[0], b[0]);
  return twoSum(s, e + a[1] + b[1]);
}

function multiply(a: DoubleDouble, b: DoubleDouble): DoubleDouble {
  const [p, e] = twoProduct(a[0], b[0]);
  return twoSum(p, e + a[0] * b[1] + a[1] * b[0]);
}

function divide(a: DoubleDouble, b: DoubleDouble): DoubleDouble {
  const q1 = a[0] / b[0];
  // a - q1·b, then one correction step.
  const r = add(a, multiply([-q1, 0], b));
  const q2 = r[0] / b[0];
  return twoSum(q1, q2);
}

/** ln(x), correctly rounded for every positive finite x (NaN, ±Infinity, 0 and negatives as Math.log). */
export function correctLog(x: number): number {
  if (!(x > 0) || x === Infinity) return Math.log(x);
  if (x === 1) return 0;
  // Split x = m · 2^e exactly (scaling subnormals up first so that the power-of-two division stays exact).
  let e = 0;
  let m = x;
  if (m < 2.2250738585072014e-308) {
    m *= 2 ** 64;
    e -= 64;
  }
  // Two steps: 2^1024 overflows, and x may be close to Number.MAX_VALUE.
  const shift = Math.floor(Math.log2(m));
  const half = Math.trunc(shift / 2);
  m = m / 2 ** half / 2 ** (shift - half);
  e += shift;
  // Math.log2 may be off by one near a power of two: bring m into [1, 2), then [√½, √2).
  while (m >= 2) {
    m /= 2;
    e++;
  }
  while (m < 1) {
    m *= 2;
    e--;
  }
  if (m > Math.SQRT2) {
    m /= 2;
    e++;
  }
  // s = (m − 1)/(m + 1), |s| < 0.172; m − 1 is exact (Sterbenz), m + 1 is carried as a double-double.
  const s = divide([m - 1, 0], twoSum(m, 1));
  const s2 = multiply(s, s);
  let term = s;
  let sum = s;
  for (let k = 3; k < 80; k += 2) {
    term = multiply(term, s2);
    const part = divide(term, [k, 0]);
    sum = add(sum, part);
    if (Math.abs(part[0]) < Math.abs(sum[0]) * 1e-34) break;
  }
  const lnM: DoubleDouble = [2 * sum[0], 2 * sum[1]];
  const eLn2 = add(twoProduct(e, LN2_HI), [e * LN2_LO, 0]);
  const result = add(eLn2, lnM);
  return result[0] + result[1];
}
