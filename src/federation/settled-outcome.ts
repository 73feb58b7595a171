import { OPERATIONS, WIRE_FORMATS, type Operation, type WireFormat } from '../core/index.js';
import type { Outcome } from '../pipeline/types.js';
import type { SettledReservation } from './reservation-server.js';

/**
 * The issuer's record of a request another node served under one of its tokens: the principal is the token, the
 * peer is the node that served it (`served_by: "peer"`, `source: "federation"`), the usage what that node settled.
 */
export function settledOutcome(settled: SettledReservation): Outcome {
  const format = (WIRE_FORMATS as readonly string[]).includes(settled.format ?? '') ? (settled.format as WireFormat) : 'openai';
  const operation = (OPERATIONS as readonly string[]).includes(settled.operation ?? '') ? (settled.operation as Operation) : 'chat';
  return {
    requestId: `${settled.servedBy}:${settled.requestId}`,
    receivedAt: settled.reservedAt,
    format,
    operation,
    requestedModel: settled.model ?? 'unknown',
    ...(settled.model ? { model: settled.model } : {}),
    provider: `peer:${settled.servedBy}`,
    peer: settled.servedBy,
    principal: { kind: settled.principal.kind, id: settled.principal.id },
    ...(settled.ip ? { ip: settled.ip } : {}),
    source: 'federation',
    stream: settled.stream ?? false,
    attempts: [],
    status: settled.status,
    usage: { inputTokens: settled.usage.input, outputTokens: settled.usage.output, ...(settled.usage.cached ? { cachedInputTokens: settled.usage.cached } : {}) },
    ...(settled.end === 'expired' ? { usageEstimated: true } : {}),
    findings: [],
    warnings: settled.end === 'expired' ? ['reservation expired unsettled: charged at its reserved amounts'] : [],
    ...(settled.end === 'released' ? { clientAborted: false } : {}),
  };
}
