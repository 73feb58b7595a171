/** Integer micro-dollars as an exact decimal string of dollars (`1234567` → `"1.234567"`), for exports and humans. */
export function formatMicrosAsUsd(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(micros));
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
}
