import { z } from 'zod';
import { Uint8ArrayList } from 'uint8arraylist';
import { encode as encodeLengthPrefixed } from 'it-length-prefixed';
import { OPERATIONS, WIRE_FORMATS } from '../core/index.js';

/**
 * Frames of `/meshgate/forward/1.0.0` (protocol/forward.md): each is uvarint(length) ‖ type byte ‖ payload, the
 * unsigned-varint length prefix libp2p uses everywhere (multiformats/unsigned-varint). JSON payloads are UTF-8;
 * DATA payloads are raw body bytes, so a streamed response crosses the mesh without re-encoding.
 */
export const FORWARD_PROTOCOL = '/meshgate/forward/1.0.0';

export const FrameType = {
  request: 0x01,
  head: 0x02,
  data: 0x03,
  heartbeat: 0x04,
  trailer: 0x05,
  refusal: 0x06,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** Largest DATA payload a sender puts in one frame; bigger body chunks are split. */
export const MAX_DATA_FRAME_BYTES = 256 * 1024;
/** Largest response frame a requester accepts (a DATA frame plus room for a big head or trailer). */
export const MAX_RESPONSE_FRAME_BYTES = 1024 * 1024;

export const forwardRequestSchema = z
  .object({
    /** The asking node's request id, reused in the serving node's records and receipts. */
    id: z.string().min(1).max(128),
    format: z.enum(WIRE_FORMATS),
    operation: z.enum(OPERATIONS),
    model: z.string().min(1).max(256),
    stream: z.boolean(),
    body: z.unknown(),
    hop: z.number().int().min(0),
    visited: z.array(z.string().min(1)).max(64),
    /** Epoch milliseconds after which the requester no longer wants an answer. */
    deadline: z.number().int().min(0),
    /** Sent by older nodes (their client's token id) and ignored: a requester sends nothing that identifies its clients. */
    principal: z.string().max(256).optional().meta({ deprecated: true, description: 'Ignored; sent by older nodes only. A requester sends nothing that identifies its clients.' }),
  })
  .strict();

export const forwardHeadSchema = z
  .object({ status: z.number().int().min(100).max(599), headers: z.record(z.string(), z.string()) })
  .strict();

/** Partial on purpose: a newer peer may add trailer fields without breaking older requesters. */
export const forwardTrailerSchema = z.object({
  usage: z
    .object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0), cachedInputTokens: z.number().int().min(0).optional() })
    .optional(),
  provider: z.string().optional(),
  model: z.string().optional(),
  error: z.object({ status: z.number().int(), message: z.string() }).optional(),
  /** The usage receipt for this request (protocol/receipts.md), a compact JWS signed by the serving node. */
  receipt: z.string().max(16_384).optional(),
});

export const REFUSAL_CODES = ['cycle', 'hop_limit', 'not_allowed', 'timeout', 'busy', 'bad_request', 'unavailable'] as const;
export const forwardRefusalSchema = z.object({ code: z.enum(REFUSAL_CODES), message: z.string() });

export type ForwardRequestFrame = z.infer<typeof forwardRequestSchema>;
export type ForwardHead = z.infer<typeof forwardHeadSchema>;
export type ForwardTrailer = z.infer<typeof forwardTrailerSchema>;
export type ForwardRefusal = z.infer<typeof forwardRefusalSchema>;
export type RefusalCode = ForwardRefusal['code'];

export type Frame =
  | { type: 'request'; value: ForwardRequestFrame }
  | { type: 'head'; value: ForwardHead }
  | { type: 'data'; value: Uint8Array }
  | { type: 'heartbeat' }
  | { type: 'trailer'; value: ForwardTrailer }
  | { type: 'refusal'; value: ForwardRefusal };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function framed(type: number, payload: Uint8Array): Uint8ArrayList {
  return encodeLengthPrefixed.single(new Uint8ArrayList(Uint8Array.of(type), payload));
}

/** Encodes a frame with its length prefix, ready for `stream.send`. */
export function encodeFrame(frame: Frame): Uint8ArrayList {
  switch (frame.type) {
    case 'data':
      return framed(FrameType.data, frame.value);
    case 'heartbeat':
      return framed(FrameType.heartbeat, new Uint8Array(0));
    default:
      return framed(FrameType[frame.type], encoder.encode(JSON.stringify(frame.value)));
  }
}

const jsonFrameSchemas = {
  [FrameType.request]: ['request', forwardRequestSchema],
  [FrameType.head]: ['head', forwardHeadSchema],
  [FrameType.trailer]: ['trailer', forwardTrailerSchema],
  [FrameType.refusal]: ['refusal', forwardRefusalSchema],
} as const;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Decodes one frame body (type byte + payload, without the length prefix). Throws FrameError if it is malformed. */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength === 0) throw new FrameError('empty frame');
  const type = bytes[0];
  const payload = bytes.subarray(1);
  if (type === FrameType.data) return { type: 'data', value: payload };
  if (type === FrameType.heartbeat) return { type: 'heartbeat' };
  const entry = jsonFrameSchemas[type as keyof typeof jsonFrameSchemas];
  if (!entry) throw new FrameError(`unknown frame type 0x${type.toString(16)}`);
  const [name, schema] = entry;
  let value: unknown;
  try {
    value = schema.parse(JSON.parse(decoder.decode(payload)));
  } catch {
    throw new FrameError(`malformed ${name} frame`);
  }
  return { type: name, value } as Frame;
}
