/** A benchmark target and its one-line verdict, printed next to the figures it compares (from the same run). */
export interface Verdict {
  /** What the target asks, e.g. "rate at 32 connections ≥ 80% of the minimal proxy". */
  target: string;
  /** The figures compared, e.g. "2,900 vs 3,400 req/s = 85%". */
  measured: string;
  met: boolean;
  /**
   * Set when the same run shows the target out of this machine's reach whatever the gateway does — e.g. the minimal
   * proxy (the floor) or the mock answered directly already misses it: why, printed after a verdict of not met.
   */
  beyondMachine?: string;
}

export const verdictLine = (v: Verdict) =>
  `${v.met ? '✓ met    ' : '✗ not met'}  ${v.target}: ${v.measured}${!v.met && v.beyondMachine ? ` — beyond this machine: ${v.beyondMachine}` : ''}`;

export const ms = (n: number) => `${n.toFixed(2)} ms`;
export const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`;
export const mb = (n: number) => `${n.toFixed(0)} MB`;
