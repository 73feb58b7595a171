/** What bench/timeline-probe.mjs writes, and the requests in it (bench/timeline.ts reads them). */
import { join } from 'node:path';

/** The probe, for `node --import`. */
export const PROBE = join(import.meta.dirname, 'timeline-probe.mjs');

export interface ProbeDump {
  /** Each mark's name and time (process.hrtime, ns), in the order they were made. */
  names: string[];
  times: number[];
  /** V8's collections: start (performance.now() ms), duration (ms), kind. */
  gcs: Array<[number, number, number]>;
  /** performance.now() 0 on the hrtime clock (ns). */
  hrOrigin: number;
}

export type Mark = [name: string, at: number];

/** The probe's marks split into requests, each from its `request` mark to the next one's (marks before the first are not a request's). */
export function requestsOf(dump: ProbeDump): Mark[][] {
  const requests: Mark[][] = [];
  for (let i = 0; i < dump.names.length; i++) {
    if (dump.names[i] === 'request') requests.push([]);
    requests.at(-1)?.push([dump.names[i]!, dump.times[i]!]);
  }
  return requests;
}
