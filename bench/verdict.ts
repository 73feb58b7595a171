/** A benchmark target and its one-line verdict, printed next to the figures it compares (from the same run). */
export interface Verdict {
  /** What the target asks, e.g. "rate at 32 connections ≥ 80% of the minimal proxy". */
  target: string;
  /** The figures compared, e.g. "2,900 vs 3,400 req/s = 85%". */
  measured: string;
  met: boolean;
}

export const verdictLine = (v: Verdict) => `${v.met ? '✓ met    ' : '✗ not met'}  ${v.target}: ${v.measured}`;

export const ms = (n: number) => `${n.toFixed(2)} ms`;
export const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`;
export const mb = (n: number) => `${n.toFixed(0)} MB`;
