/**
 * Numbers formatted exactly as `go tool pprof` prints them: its unit scaling
 * (internal/measurement) and Go's fmt rounding (%.2f, %5.2g: round half to even on the exact
 * binary value, which JavaScript's toFixed does not do).
 */

interface Unit {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly factor: number;
}
interface UnitType {
  readonly units: readonly Unit[];
  readonly defaultUnit: Unit;
}

const UNIT_TYPES: readonly UnitType[] = [
  {
    units: [
      { name: 'B', aliases: ['b', 'byte'], factor: 1 },
      { name: 'kB', aliases: ['kb', 'kbyte', 'kilobyte'], factor: 2 ** 10 },
      { name: 'MB', aliases: ['mb', 'mbyte', 'megabyte'], factor: 2 ** 20 },
      { name: 'GB', aliases: ['gb', 'gbyte', 'gigabyte'], factor: 2 ** 30 },
      { name: 'TB', aliases: ['tb', 'tbyte', 'terabyte'], factor: 2 ** 40 },
      { name: 'PB', aliases: ['pb', 'pbyte', 'petabyte'], factor: 2 ** 50 },
    ],
    defaultUnit: { name: 'B', aliases: ['b', 'byte'], factor: 1 },
  },
  {
    units: [
      { name: 'ns', aliases: ['ns', 'nanosecond'], factor: 1 },
      { name: 'us', aliases: ['μs', 'us', 'microsecond'], factor: 1e3 },
      { name: 'ms', aliases: ['ms', 'millisecond'], factor: 1e6 },
      { name: 's', aliases: ['s', 'sec', 'second'], factor: 1e9 },
      { name: 'hrs', aliases: ['hour', 'hr'], factor: 3600e9 },
    ],
    defaultUnit: { name: 's', aliases: [], factor: 1e9 },
  },
  {
    units: [
      { name: 'n*GCU', aliases: ['nanogcu'], factor: 1e-9 },
      { name: 'u*GCU', aliases: ['microgcu'], factor: 1e-6 },
      { name: 'm*GCU', aliases: ['milligcu'], factor: 1e-3 },
      { name: 'GCU', aliases: ['gcu'], factor: 1 },
      { name: 'k*GCU', aliases: ['kilogcu'], factor: 1e3 },
      { name: 'M*GCU', aliases: ['megagcu'], factor: 1e6 },
      { name: 'G*GCU', aliases: ['gigagcu'], factor: 1e9 },
      { name: 'T*GCU', aliases: ['teragcu'], factor: 1e12 },
      { name: 'P*GCU', aliases: ['petagcu'], factor: 1e15 },
    ],
    defaultUnit: { name: 'GCU', aliases: [], factor: 1 },
  },
];

function sniffUnit(t: UnitType, unit: string): Unit | undefined {
  let u = unit.toLowerCase();
  if (u.length > 2 && u.endsWith('s')) u = u.slice(0, -1);
  return t.units.find((x) => x.aliases.includes(u));
}

function autoScale(t: UnitType, value: number): [number, string] | undefined {
  let f = 0;
  let name = '';
  for (const u of t.units) {
    if (u.factor >= f && value / u.factor >= 1) {
      f = u.factor;
      name = u.name;
    }
  }
  return f === 0 ? undefined : [value / f, name];
}

/** measurement.Scale: the value in `toUnit` ("auto"/"minimum" pick the largest unit below it). */
export function scale(value: number, fromUnit: string, toUnit: string): [number, string] {
  if (value < 0) {
    const [v, u] = scale(-value, fromUnit, toUnit);
    return [-v, u];
  }
  for (const t of UNIT_TYPES) {
    const from = sniffUnit(t, fromUnit);
    if (!from) continue;
    const v = value * from.factor;
    if (toUnit === 'minimum' || toUnit === 'auto') {
      return autoScale(t, v) ?? [v / t.defaultUnit.factor, t.defaultUnit.name];
    }
    const to = sniffUnit(t, toUnit);
    if (!to) return [v / t.defaultUnit.factor, t.defaultUnit.name];
    return [v / to.factor, to.name];
  }
  switch (toUnit) {
    case 'count':
    case 'sample':
    case 'unit':
    case 'minimum':
    case 'auto':
      return [value, ''];
    default:
      return [value, toUnit];
  }
}

/** measurement.ScaledLabel: "1.20s", "512kB", "0". */
export function scaledLabel(value: number, fromUnit: string, toUnit: string): string {
  const [v, u] = scale(value, fromUnit, toUnit);
  let sv = goFixed(v, 2);
  if (sv.endsWith('.00')) sv = sv.slice(0, -3);
  if (sv === '0' || sv === '-0') return '0';
  return sv + u;
}

/** measurement.Label: auto-scaled. */
export function label(value: number, unit: string): string {
  return scaledLabel(value, unit, 'auto');
}

/** measurement.Percentage: "45.83%", "  100%", "0.72%", " 0.1%". */
export function percentage(value: number, total: number): string {
  const ratio = total !== 0 ? Math.abs(value / total) * 100 : 0;
  if (ratio >= 99.95 && ratio <= 100.05) return '  100%';
  if (ratio >= 1) return `${goFixed(ratio, 2).padStart(5)}%`;
  return `${goG(ratio, 2).padStart(5)}%`;
}

/**
 * The unit pprof picks for a report (report.selectOutputUnit with the default "minimum"): the unit
 * of the smallest non-zero value shown, or a larger one when the smallest is under 1% of the total.
 */
export function selectOutputUnit(minValue: number, total: number, sampleUnit: string): string {
  let min = minValue;
  const max = total;
  if (min === 0) min = max;
  const [, minUnit] = scale(min, sampleUnit, 'minimum');
  const [, maxUnit] = scale(max, sampleUnit, 'minimum');
  let unit = minUnit;
  if (minUnit !== maxUnit && min * 100 < max) {
    [, unit] = scale(100 * min, sampleUnit, 'minimum');
  }
  return unit !== '' ? unit : sampleUnit;
}

// ---------------------------------------------------------------------------------------------
// Go's fmt rounding

/** The decimal digits of |x| (40 significant, enough to tell an exact tie) and the decimal point. */
function decimalDigits(x: number): { digits: string; dp: number } {
  const s = Math.abs(x).toExponential(39); // d.ddd…e±N, correctly rounded at 40 digits
  const e = s.indexOf('e');
  const digits = s.slice(0, 1) + s.slice(2, e);
  const exp = Number(s.slice(e + 1));
  return { digits, dp: exp + 1 };
}

/** Rounds a digit string to `keep` digits, half to even; returns the digits and a carry into a new digit. */
function roundDigits(digits: string, keep: number): { digits: string; carry: boolean } {
  if (keep >= digits.length) return { digits: digits.padEnd(keep, '0'), carry: false };
  if (keep < 0) return { digits: '', carry: false };
  const next = digits.charCodeAt(keep) - 48;
  let up: boolean;
  if (next > 5) up = true;
  else if (next < 5) up = false;
  else {
    const rest = digits.slice(keep + 1);
    if (/[1-9]/.test(rest)) up = true;
    else up = keep > 0 && (digits.charCodeAt(keep - 1) - 48) % 2 === 1;
  }
  const kept = digits.slice(0, keep).split('');
  if (up) {
    let i = keep - 1;
    while (i >= 0) {
      if (kept[i] === '9') {
        kept[i] = '0';
        i--;
      } else {
        kept[i] = String.fromCharCode((kept[i] as string).charCodeAt(0) + 1);
        break;
      }
    }
    if (i < 0) return { digits: `1${kept.join('')}`, carry: true };
  }
  return { digits: kept.join(''), carry: false };
}

/** fmt's %.{prec}f. */
export function goFixed(x: number, prec: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  const neg = x < 0 || Object.is(x, -0);
  if (x === 0) return `${neg ? '-' : ''}0${prec > 0 ? `.${'0'.repeat(prec)}` : ''}`;
  const { digits, dp } = decimalDigits(x);
  const keep = dp + prec;
  let intPart: string;
  let frac: string;
  if (keep <= 0) {
    // Rounds to 0 or to one unit in the last place.
    const padded = '0'.repeat(-keep) + digits;
    const r = roundDigits(`0${padded}`, 1);
    const unit = r.digits === '1';
    intPart = prec === 0 && unit ? '1' : '0';
    frac = prec > 0 ? `${'0'.repeat(prec - 1)}${unit ? '1' : '0'}` : '';
  } else {
    const r = roundDigits(digits, keep);
    const d = r.digits;
    const pointAt = dp + (r.carry ? 1 : 0);
    if (pointAt <= 0) {
      intPart = '0';
      frac = ('0'.repeat(-pointAt) + d).slice(0, prec).padEnd(prec, '0');
    } else {
      intPart = d.slice(0, pointAt).padEnd(pointAt, '0');
      frac = d.slice(pointAt).padEnd(prec, '0').slice(0, prec);
    }
  }
  return `${neg ? '-' : ''}${intPart}${prec > 0 ? `.${frac}` : ''}`;
}

/** fmt's %.{prec}g (prec ≥ 1). */
export function goG(x: number, prec: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  const neg = x < 0;
  if (x === 0) return neg ? '-0' : '0';
  const p = Math.max(1, prec);
  const { digits, dp } = decimalDigits(x);
  const r = roundDigits(digits, p);
  let d = r.digits;
  let point = dp + (r.carry ? 1 : 0);
  if (r.carry) d = d.slice(0, p);
  d = d.replace(/0+$/, '');
  if (d === '') {
    d = '0';
    point = 1;
  }
  let eprec = p;
  if (eprec > d.length && d.length >= point) eprec = d.length;
  const exp = point - 1;
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= eprec) {
    const mant = d.length > 1 ? `${d[0]}.${d.slice(1)}` : d;
    const e = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${d}`;
  if (point >= d.length) return `${sign}${d}${'0'.repeat(point - d.length)}`;
  return `${sign}${d.slice(0, point)}.${d.slice(point)}`;
}
