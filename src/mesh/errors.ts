/** Why a forward to a peer failed; `beforeFirstByte` tells the router whether it may still fail over. */
export type MeshErrorCode = 'peer_unreachable' | 'peer_refused' | 'stream_reset' | 'cycle' | 'hop_limit' | 'timeout' | 'not_allowed';

export class MeshError extends Error {
  readonly code: MeshErrorCode;
  /** True when no byte of the response body had been delivered when the failure happened. */
  readonly beforeFirstByte: boolean;

  constructor(code: MeshErrorCode, message: string, options: { beforeFirstByte: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshError';
    this.code = code;
    this.beforeFirstByte = options.beforeFirstByte;
  }
}
