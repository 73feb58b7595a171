import type { MeshConfig } from './config.js';
import type { RecordPayload } from './node-record.js';
import type { PeerScores, PeerStats } from './peer-scores.js';

/** One peer as GET /v1/mesh shows it: what its record says, and what this node measured. */
export interface MeshPeerStatus {
  peerId: string;
  /** banned: failed too often lately; connected / known: has a live record, with or without a connection. */
  state: 'connected' | 'known' | 'banned';
  addresses: string[];
  models: RecordPayload['models'];
  capacity?: RecordPayload['capacity'];
  version?: string;
  recordExpiresAt?: number;
  score: number;
  stats?: Omit<PeerStats, 'bannedUntil'>;
  bannedUntil?: number;
}

export interface MeshStatus {
  peerId: string;
  addresses: string[];
  forward: MeshConfig['forward'];
  maxHops: number;
  /** Forwarded requests this node is serving. */
  inFlight: number;
  /** Bytes of request frames being read from peers right now, of the node-wide `request_read_budget_bytes`. */
  requestBytesReading: number;
  record?: { seq: number; expiresAt: number; models: number };
  connections: number;
  peers: MeshPeerStatus[];
}

/** Peers with a live record, plus banned peers whose record is gone (so an operator sees why), best first. */
export function peerStatuses(records: RecordPayload[], scores: PeerScores, connected: Set<string>): MeshPeerStatus[] {
  const view = (peerId: string, record?: RecordPayload): MeshPeerStatus => {
    const stats = scores.get(peerId);
    const banned = scores.isBanned(peerId);
    const measured = stats ? (({ bannedUntil: _omit, ...rest }) => rest)(stats) : undefined;
    return {
      peerId,
      state: banned ? 'banned' : connected.has(peerId) ? 'connected' : 'known',
      addresses: record?.addrs ?? [],
      models: record?.models ?? [],
      ...(record ? { capacity: record.capacity, version: record.version, recordExpiresAt: record.expiresAt } : {}),
      score: scores.score(peerId),
      ...(measured ? { stats: measured } : {}),
      ...(banned ? { bannedUntil: stats?.bannedUntil } : {}),
    };
  };
  const withRecords = new Set(records.map((r) => r.peerId));
  return [
    ...records.map((record) => view(record.peerId, record)),
    ...scores.banned().filter((id) => !withRecords.has(id)).map((id) => view(id)),
  ].sort((a, b) => b.score - a.score);
}
