import { readFile } from 'node:fs/promises';
import { formatMicrosAsUsd } from '../core/index.js';
import { verifyReceiptSet } from './verify-export.js';

export const RECEIPTS_USAGE = `Usage:
  meshgate receipts verify FILE
      Check an export of GET /v1/mesh/receipts (JSON) offline: signatures, acknowledgements and each channel's chain.
      Prints totals per channel; exits 1 if anything does not verify.`;

const usd = (micros: number) => `$${formatMicrosAsUsd(micros)}`;

/** `meshgate receipts verify FILE`. */
export async function runReceiptsCommand(argv: string[], io: { out: (l: string) => void; err: (l: string) => void }): Promise<number> {
  const [sub, file] = argv;
  if (sub !== 'verify' || !file) {
    io.err(RECEIPTS_USAGE);
    return 2;
  }
  let items: Array<{ jws: string; ack?: string | null }>;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown } | unknown[];
    const list = Array.isArray(parsed) ? parsed : (parsed as { data?: unknown }).data;
    if (!Array.isArray(list)) throw new Error('expected a JSON array or {"data": [...]}');
    items = list.map((item, i) => {
      const jws = (item as { jws?: unknown }).jws;
      if (typeof jws !== 'string') throw new Error(`item ${i} has no "jws" string`);
      return { jws, ack: (item as { ack?: string | null }).ack };
    });
  } catch (err) {
    io.err(`meshgate receipts verify: cannot read ${file}: ${(err as Error).message}`);
    return 2;
  }
  const reports = await verifyReceiptSet(items);
  let failed = false;
  for (const r of reports) {
    io.out(`${r.channel}: ${r.receipts} receipt(s), seq ${r.firstSeq}..${r.lastSeq}, ${r.acknowledged} acknowledged, total ${usd(r.totalMicros)}, acknowledged ${usd(r.acknowledgedMicros)}${r.problems.length ? '' : ' — OK'}`);
    for (const problem of r.problems) io.out(`  ✗ ${problem}`);
    failed ||= r.problems.length > 0;
  }
  if (reports.length === 0) io.out('no receipts in the file');
  return failed ? 1 : 0;
}
