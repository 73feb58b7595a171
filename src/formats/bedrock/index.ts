import type { ProviderCodec } from '../codec.js';
import { decodeEventStream } from './event-stream.js';
import { canonicalToBedrockRequest } from './request.js';
import { bedrockResponseToCanonical } from './response.js';
import { decodeBedrockStream } from './stream.js';

export { bedrockToolUseId } from './request.js';

/**
 * AWS Bedrock Converse and ConverseStream (https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference.html):
 * a provider-only format (no client speaks it to the gateway). Model and streaming are in the URL; streams are AWS
 * event-stream binary frames, not SSE.
 */
export const bedrockCodec: ProviderCodec = {
  format: 'bedrock',
  requestFromCanonical: (req, model) => canonicalToBedrockRequest(req, model),
  responseToCanonical: bedrockResponseToCanonical,
  decodeStream: decodeBedrockStream,
  streamMessages: decodeEventStream,
};
