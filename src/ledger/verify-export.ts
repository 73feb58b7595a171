import { receiptHash, verifyAck, verifyReceipt, type ReceiptPayload } from './receipt.js';

export interface ChannelReport {
  channel: string;
  issuer: string;
  subject: string;
  receipts: number;
  acknowledged: number;
  totalMicros: number;
  /** What the acknowledged receipts add up to: the amount the subject has signed for (the figure to settle on). */
  acknowledgedMicros: number;
  firstSeq: number;
  lastSeq: number;
  problems: string[];
}

/**
 * Checks an exported set of receipts offline: every signature against the issuer's peer id, every acknowledgement
 * against the subject's, and each channel's chain (consecutive sequence numbers, `prev` hashes, running totals).
 * A set that starts mid-channel is checked from its first receipt on.
 */
export async function verifyReceiptSet(items: Array<{ jws: string; ack?: string | null }>): Promise<ChannelReport[]> {
  const channels = new Map<string, Array<{ payload: ReceiptPayload; jws: string; ack?: string | null }>>();
  const unreadable: string[] = [];
  for (const [index, item] of items.entries()) {
    try {
      const payload = await verifyReceipt(item.jws);
      const list = channels.get(payload.ch) ?? [];
      list.push({ payload, jws: item.jws, ack: item.ack });
      channels.set(payload.ch, list);
    } catch (err) {
      unreadable.push(`item ${index}: ${(err as Error).message}`);
    }
  }
  const reports: ChannelReport[] = [];
  for (const [channel, list] of channels) {
    list.sort((a, b) => a.payload.seq - b.payload.seq);
    const first = list[0]!.payload;
    const report: ChannelReport = {
      channel, issuer: first.iss, subject: first.sub, receipts: list.length, acknowledged: 0, totalMicros: 0, acknowledgedMicros: 0,
      firstSeq: first.seq, lastSeq: list[list.length - 1]!.payload.seq, problems: [],
    };
    let previous: { payload: ReceiptPayload; jws: string } | undefined;
    for (const entry of list) {
      const p = entry.payload;
      if (previous) {
        if (p.seq === previous.payload.seq) report.problems.push(`seq ${p.seq}: two different receipts`);
        else if (p.seq !== previous.payload.seq + 1) report.problems.push(`seq ${previous.payload.seq + 1}..${p.seq - 1} missing`);
        else {
          if (p.prev !== receiptHash(previous.jws)) report.problems.push(`seq ${p.seq}: prev does not match seq ${previous.payload.seq}`);
          if (p.total !== previous.payload.total + p.cost) report.problems.push(`seq ${p.seq}: total ${p.total} ≠ ${previous.payload.total} + ${p.cost}`);
        }
      } else if (p.seq === 1 && (p.prev !== null || p.total !== p.cost)) {
        report.problems.push('seq 1: must start the chain (prev null, total = cost)');
      }
      if (entry.ack) {
        try {
          await verifyAck(entry.ack, entry.jws);
          report.acknowledged++;
          report.acknowledgedMicros += p.cost;
        } catch (err) {
          report.problems.push(`seq ${p.seq}: acknowledgement invalid (${(err as Error).message})`);
        }
      }
      report.totalMicros += p.cost;
      previous = entry;
    }
    reports.push(report);
  }
  if (unreadable.length) reports.push({ channel: '(unverifiable)', issuer: '', subject: '', receipts: unreadable.length, acknowledged: 0, totalMicros: 0, acknowledgedMicros: 0, firstSeq: 0, lastSeq: 0, problems: unreadable });
  return reports;
}
