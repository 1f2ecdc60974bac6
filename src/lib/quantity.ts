/**
 * Kubernetes resource quantities ("250m", "1.5Gi", "129e6"), the grammar of
 * k8s.io/apimachinery/pkg/api/resource:
 *
 *   quantity        ::= signedNumber suffix
 *   signedNumber    ::= [ "+" | "-" ] number
 *   number          ::= digits | digits "." digits | digits "." | "." digits
 *   suffix          ::= binarySI | decimalExponent | decimalSI
 *   binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei
 *   decimalSI       ::= n | u | m | "" | k | M | G | T | P | E
 *   decimalExponent ::= ( "e" | "E" ) [ "+" | "-" ] digits
 *
 * Surrounding white space is ignored (configuration and chat text arrive padded); anything else,
 * "1Gb", "1 Gi", "2K", is refused as the API server refuses it.
 */

const BINARY_SI: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const DECIMAL_SI: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** A quantity as a plain number in its base unit (cores for CPU, bytes for memory); undefined when it is not one. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[3] !== undefined) return n * 10 ** Number(m[3]);
  const suffix = m[2] ?? '';
  return n * ((BINARY_SI[suffix] ?? DECIMAL_SI[suffix]) as number);
}

/** CPU in cores: "250m" -> 0.25, "1500000n" -> 0.0015. */
export function parseCpuQuantity(text: string): number | undefined {
  return parseQuantity(text);
}

/** Memory in whole bytes: "512Mi" -> 536870912, "1k" -> 1000; undefined for a negative size. */
export function parseMemoryBytes(text: string): number | undefined {
  const v = parseQuantity(text);
  return v === undefined || v < 0 ? undefined : Math.round(v) || 0;
}
