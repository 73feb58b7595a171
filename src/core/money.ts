/**
 * Money is counted in integer micro-dollars (never accumulated floats); USD appears only at the edges: prices and
 * limits as configured, amounts as shown to people and metrics.
 */
export const MICROS_PER_USD = 1_000_000;

/** USD (a price, a limit) as integer micro-dollars, rounded to the nearest. */
export function usdToMicros(usd: number): number {
  return Math.round(usd * MICROS_PER_USD);
}

/** Micro-dollars as a USD number, for JSON and metrics. For text, `formatMicrosAsUsd` is exact. */
export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

/** Whether a USD amount has at most six decimals, i.e. is a whole number of micro-dollars. */
export function isWholeMicros(usd: number): boolean {
  const micros = usd * MICROS_PER_USD;
  return Number.isInteger(Math.round(micros)) && Math.abs(micros - Math.round(micros)) < 1e-6;
}

/** Integer micro-dollars as an exact decimal string of dollars (`1234567` → `"1.234567"`), for exports and humans. */
export function formatMicrosAsUsd(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(micros));
  return `${sign}${Math.floor(abs / MICROS_PER_USD)}.${String(abs % MICROS_PER_USD).padStart(6, '0')}`;
}
