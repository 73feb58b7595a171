import { withPassthroughModel, type FormatCodec } from '../codec.js';
import { canonicalToResponsesRequest, responsesRequestToCanonical, withoutForeignReasoning } from './request.js';
import { canonicalToResponsesResponse, responsesResponseToCanonical, usageFromResponses, type ResponsesUsage } from './response.js';
import { decodeResponsesStream, encodeResponsesStream, tapResponsesStreamMessage } from './stream.js';

export { BUILT_IN_TOOL_NOTE, inputItems, parseResponsesRequest, responsesRequestSchema, type ResponsesInputItem, type ResponsesRequest } from './request.js';
export { responseIdFor } from './response.js';

/**
 * The OpenAI Responses API (`POST /v1/responses`): a client format, and a provider format for models served at an
 * OpenAI-type provider's `/v1/responses`. Stored responses and `previous_response_id` live above the codec (the
 * conversation is rebuilt before the pipeline sees the request), so the codec is as stateless as the others.
 */
export const responsesCodec: FormatCodec = {
  format: 'responses',
  requestToCanonical: (body) => responsesRequestToCanonical(body),
  requestFromCanonical: (req, model) => canonicalToResponsesRequest(req, model),
  responseToCanonical: (body) => responsesResponseToCanonical(body),
  responseFromCanonical: canonicalToResponsesResponse,
  decodeStream: decodeResponsesStream,
  encodeStream: (events, opts) => encodeResponsesStream(events, opts),
  // Usage is always in the terminal event: nothing to ask for, nothing to hold back.
  passthroughRequest: (body, model) => ({ body: withPassthroughModel(withoutForeignReasoning(body), model), clientWantsStreamUsage: true }),
  tapStreamMessage: (message) => tapResponsesStreamMessage(message),
  usageField: 'usage',
  usageFromResponse: (body) => usageFromResponses((body as { usage?: ResponsesUsage })?.usage),
};
