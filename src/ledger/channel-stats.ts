/**
 * The running figures of one channel, as this node holds it, written in the same batch as every change to the
 * channel's receipts: the ledger view reads one entry per channel and never scans receipts or disputes.
 */
export interface ChannelStats {
  /** Receipts in the chain that are not disputed, and their cost (micro-USD). */
  receipts: number;
  micros: number;
  /** Of those, the acknowledged ones. */
  acked: number;
  ackedMicros: number;
  /** Disputed receipts of the chain that are not acknowledged (micro-USD): still owed as far as a credit limit goes. */
  disputedMicros: number;
  /** Disputes counted for the channel: disputed receipts and noted disputes. */
  disputes: number;
  /** Entries kept outside the chain (noted disputes, receipts this node refused), bounded per channel. */
  noted: number;
  /** The highest sequence number in the chain. */
  lastSeq: number;
}

export const EMPTY_STATS: ChannelStats = { receipts: 0, micros: 0, acked: 0, ackedMicros: 0, disputedMicros: 0, disputes: 0, noted: 0, lastSeq: 0 };

/** `stats` with each figure of `delta` added (`lastSeq` is raised to it instead). */
export function withDelta(stats: ChannelStats, delta: Partial<ChannelStats>): ChannelStats {
  const next = { ...stats };
  for (const [key, value] of Object.entries(delta) as Array<[keyof ChannelStats, number]>) {
    next[key] = key === 'lastSeq' ? Math.max(next.lastSeq, value) : next[key] + value;
  }
  return next;
}

/** What one stored receipt adds to its channel's figures. */
export function receiptDelta(record: { seq: number; cost: number; ack?: string; dispute?: unknown }, inChain: boolean): Partial<ChannelStats> {
  if (!inChain) return { disputes: 1, noted: 1 };
  if (record.dispute) return { disputes: 1, disputedMicros: record.ack ? 0 : record.cost, lastSeq: record.seq };
  return { receipts: 1, micros: record.cost, lastSeq: record.seq, ...(record.ack ? { acked: 1, ackedMicros: record.cost } : {}) };
}
