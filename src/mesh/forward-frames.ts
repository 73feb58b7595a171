import { z } from 'zod';
import { Uint8ArrayList } from 'uint8arraylist';
import { encode as encodeLengthPrefixed } from 'it-length-prefixed';
import { OPERATIONS, WIRE_FORMATS } from '../core/index.js';
import { decodeHeadPayload, decodeRequestPayload, decodeTrailerPayload } from './frame-payloads.js';

/**
 * Frames of `/meshgate/forward/1.0.0` (protocol/forward.md): each is uvarint(length) ‖ type byte ‖ payload, the
 * unsigned-varint length prefix libp2p uses everywhere (multiformats/unsigned-varint). JSON payloads are UTF-8;
 * DATA payloads are raw body bytes, so a streamed response crosses the mesh without re-encoding.
 */
export const FORWARD_PROTOCOL = '/meshgate/forward/1.0.0';
/**
 * `/meshgate/forward/2.0.0` (protocol/forward.md, "Version 2.0.0"): one long-lived stream per peer carrying many
 * requests, each frame tagged with its request's session id, DATA paced by per-request credit.
 */
export const FORWARD_PROTOCOL_V2 = '/meshgate/forward/2.0.0';

export const FrameType = {
  request: 0x01,
  head: 0x02,
  data: 0x03,
  heartbeat: 0x04,
  trailer: 0x05,
  refusal: 0x06,
  /** 2.0.0 only: requester → server, more DATA bytes the requester will take for this request. */
  credit: 0x07,
  /** 2.0.0 only: either way, this request is over without a TRAILER (cancelled by the requester, failed at the server). */
  reset: 0x08,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** Largest DATA payload a sender puts in one frame; bigger body chunks are split. */
export const MAX_DATA_FRAME_BYTES = 256 * 1024;
/** Largest response frame a requester accepts (a DATA frame plus room for a big head or trailer). */
export const MAX_RESPONSE_FRAME_BYTES = 1024 * 1024;
/**
 * Largest REQUEST frame sent on a 2.0.0 session (a bigger request goes on a 1.0.0 stream of its own, so a large
 * body never holds up the other requests' frames on the shared stream).
 */
export const MAX_SESSION_REQUEST_FRAME_BYTES = 1024 * 1024;
/** DATA bytes a 2.0.0 server may send for a request before the requester has granted any credit. */
export const INITIAL_CREDIT_BYTES = 1024 * 1024;
/** Session ids are uvarints of at most 32 bits; 0 is never used. */
export const MAX_SESSION_ID = 2 ** 32 - 1;

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

/**
 * The decoder of each JSON frame's payload: the typed decoders of frame-payloads.ts for the frames of every request
 * (each accepts exactly what its schema above accepts), the schema itself for a refusal.
 */
const jsonFrameDecoders: Record<number, readonly [name: string, decode: (value: unknown) => unknown]> = {
  [FrameType.request]: ['request', decodeRequestPayload],
  [FrameType.head]: ['head', decodeHeadPayload],
  [FrameType.trailer]: ['trailer', decodeTrailerPayload],
  [FrameType.refusal]: ['refusal', (value) => forwardRefusalSchema.safeParse(value).data],
};

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** A frame of a 2.0.0 session: a 1.0.0 frame, or a CREDIT or RESET; `unknown` for a type this reader does not know. */
export type SessionFrame = Frame | { type: 'credit'; value: number } | { type: 'reset' } | { type: 'unknown'; code: number };

function uvarint(value: number): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Uint8Array.from(bytes);
}

/** Reads an uvarint of at most 5 bytes (32 bits) at `offset`; undefined if it is cut short or too long. */
function readUvarint(bytes: Uint8Array, offset: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5 && offset + i < bytes.byteLength; i++) {
    const byte = bytes[offset + i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value > MAX_SESSION_ID ? undefined : { value, next: offset + i + 1 };
  }
  return undefined;
}

/** Encodes a 2.0.0 frame: uvarint(length) ‖ type ‖ uvarint(session id) ‖ payload. */
export function encodeSessionFrame(sid: number, frame: Exclude<SessionFrame, { type: 'unknown' }>): Uint8ArrayList {
  const id = uvarint(sid);
  switch (frame.type) {
    case 'data':
      return encodeLengthPrefixed.single(new Uint8ArrayList(Uint8Array.of(FrameType.data), id, frame.value));
    case 'heartbeat':
    case 'reset':
      return encodeLengthPrefixed.single(new Uint8ArrayList(Uint8Array.of(FrameType[frame.type]), id));
    case 'credit':
      return encodeLengthPrefixed.single(new Uint8ArrayList(Uint8Array.of(FrameType.credit), id, uvarint(frame.value)));
    default:
      return encodeLengthPrefixed.single(new Uint8ArrayList(Uint8Array.of(FrameType[frame.type]), id, encoder.encode(JSON.stringify(frame.value))));
  }
}

/** A REQUEST frame from its JSON payload, already encoded: 1.0.0, or 2.0.0 when the request's session id is given. */
export function encodeRequestFrame(payload: Uint8Array, sid?: number): Uint8ArrayList {
  return sid === undefined
    ? framed(FrameType.request, payload)
    : encodeLengthPrefixed.single(new Uint8ArrayList(Uint8Array.of(FrameType.request), uvarint(sid), payload));
}

/**
 * A 2.0.0 frame that cannot be used; `sid` is set when the frame named its request (only that request fails), `type`
 * when its type byte was read.
 */
export class SessionFrameError extends FrameError {
  constructor(message: string, readonly sid: number | undefined, readonly type?: number) {
    super(message);
    this.name = 'SessionFrameError';
  }
}

/** Decodes one 2.0.0 frame body (without its length prefix). Throws SessionFrameError. */
export function decodeSessionFrame(bytes: Uint8Array): { sid: number; frame: SessionFrame } {
  if (bytes.byteLength === 0) throw new SessionFrameError('empty frame', undefined);
  const type = bytes[0]!;
  const id = readUvarint(bytes, 1);
  if (!id || id.value === 0) throw new SessionFrameError('frame without a valid session id', undefined);
  const sid = id.value;
  const payload = bytes.subarray(id.next);
  if (type === FrameType.credit) {
    const credit = readUvarint(payload, 0);
    if (!credit || credit.next !== payload.byteLength) throw new SessionFrameError('malformed credit frame', sid, type);
    return { sid, frame: { type: 'credit', value: credit.value } };
  }
  if (type === FrameType.reset) return { sid, frame: { type: 'reset' } };
  if (type !== FrameType.data && type !== FrameType.heartbeat && !(type in jsonFrameDecoders)) return { sid, frame: { type: 'unknown', code: type } };
  try {
    return { sid, frame: decodePayload(type, payload) };
  } catch (err) {
    throw new SessionFrameError((err as Error).message, sid, type);
  }
}

/** Decodes one frame body (type byte + payload, without the length prefix). Throws FrameError if it is malformed. */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength === 0) throw new FrameError('empty frame');
  return decodePayload(bytes[0]!, bytes.subarray(1));
}

function decodePayload(type: number, payload: Uint8Array): Frame {
  if (type === FrameType.data) return { type: 'data', value: payload };
  if (type === FrameType.heartbeat) return { type: 'heartbeat' };
  const entry = jsonFrameDecoders[type];
  if (!entry) throw new FrameError(`unknown frame type 0x${type.toString(16)}`);
  const [name, decode] = entry;
  let value: unknown;
  try {
    value = decode(JSON.parse(decoder.decode(payload)));
  } catch {
    value = undefined;
  }
  if (value === undefined) throw new FrameError(`malformed ${name} frame`);
  return { type: name, value } as Frame;
}

/** Frames queued for one write, as one list of their encoded bytes. */
export class FrameBatch {
  #list = new Uint8ArrayList();

  get byteLength(): number {
    return this.#list.byteLength;
  }

  add(bytes: Uint8ArrayList): void {
    this.#list.append(bytes);
  }

  /** The queued bytes (undefined when there are none); the batch is empty afterwards. */
  take(): Uint8ArrayList | undefined {
    if (this.#list.byteLength === 0) return undefined;
    const list = this.#list;
    this.#list = new Uint8ArrayList();
    return list;
  }
}
