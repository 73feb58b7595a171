import { z } from 'zod';
import { forwardHeadSchema, forwardRefusalSchema, forwardRequestSchema, forwardTrailerSchema } from './mesh/forward-frames.js';
import { ledgerMessageSchema } from './ledger/ledger-messages.js';
import { receiptPayloadSchema } from './ledger/receipt.js';
import { signedRecordSchema } from './mesh/node-record.js';
import { gatewayRecordPayloadSchema } from './federation/gateway-record.js';
import { reservationPayloadSchema } from './federation/reservation.js';
import { reserveMessageSchema } from './federation/reserve-messages.js';

/**
 * The JSON Schemas published in protocol/schemas/, derived from the zod schemas the code validates with, so the
 * spec cannot drift from the implementation (test/mesh/protocol-vectors.test.ts compares the files).
 */
export const PROTOCOL_SCHEMAS: Record<string, z.ZodType> = {
  'node-record.schema.json': signedRecordSchema,
  'forward-request.schema.json': forwardRequestSchema,
  'forward-head.schema.json': forwardHeadSchema,
  'forward-trailer.schema.json': forwardTrailerSchema,
  'forward-refusal.schema.json': forwardRefusalSchema,
  'receipt-payload.schema.json': receiptPayloadSchema,
  'ledger-message.schema.json': ledgerMessageSchema,
  'gateway-record-payload.schema.json': gatewayRecordPayloadSchema,
  'reservation-payload.schema.json': reservationPayloadSchema,
  'reserve-message.schema.json': reserveMessageSchema,
};

export function protocolSchemaText(file: string): string {
  const schema = PROTOCOL_SCHEMAS[file];
  if (!schema) throw new Error(`no protocol schema named ${file}`);
  return `${JSON.stringify({ $id: `urn:meshgate:protocol:schemas:${file}`, ...z.toJSONSchema(schema, { io: 'input' }) }, null, 2)}\n`;
}
