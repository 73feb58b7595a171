import type { ProviderConfig } from '../../core-config/index.js';
import type { Operation, ProviderEndpoints } from '../types.js';
import { resolveBedrockAuth } from './credentials.js';
import { sigv4Signer } from './sigv4.js';

/**
 * AWS Bedrock runtime: Converse and ConverseStream
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html) on
 * `https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse[-stream]`. The model id may be a
 * foundation model (`anthropic.claude-3-5-sonnet-20240620-v1:0`), an inference profile (`us.anthropic…`) or an ARN;
 * its `:` and `/` are percent-encoded in the path, as the AWS SDK does.
 */
export function bedrockEndpoints(config: ProviderConfig, env: NodeJS.ProcessEnv): ProviderEndpoints {
  const { region, credentials } = resolveBedrockAuth(config, env);
  const base = (config.base_url ?? `https://bedrock-runtime.${region}.amazonaws.com`).replace(/\/+$/, '');
  const sign = credentials.kind === 'sigv4' ? sigv4Signer(credentials, region) : undefined;
  return {
    format: 'bedrock',
    operations: new Set<Operation>(['chat']),
    url: (_op, model, stream) => `${base}/model/${encodeURIComponent(model)}/${stream ? 'converse-stream' : 'converse'}`,
    headers: () => ({}),
    streamAccept: 'application/vnd.amazon.eventstream',
    // A per-request key is a Bedrock API key too; it replaces the configured credentials for that request.
    authorize: async (request, apiKey) => {
      if (apiKey) return { authorization: `Bearer ${apiKey}` };
      if (credentials.kind === 'bearer') return { authorization: `Bearer ${credentials.token.reveal()}` };
      return sign!(request);
    },
    // AWS names the failure in x-amzn-errortype (InvalidSignatureException, UnrecognizedClientException,
    // ExpiredTokenException, AccessDeniedException); the body is not repeated.
    refusalDetail: (status, headers) => {
      const type = (headers['x-amzn-errortype'] ?? '').split(':')[0] || `HTTP ${status}`;
      const hint = credentials.kind === 'bearer'
        ? 'check the Bedrock API key'
        : type === 'InvalidSignatureException' || type === 'SignatureDoesNotMatch'
          ? `the request signature was refused: check the secret access key and that region ${region} is right`
          : type === 'AccessDeniedException'
            ? 'the credentials lack bedrock:InvokeModel / InvokeModelWithResponseStream for this model'
            : 'check the access key id, secret and session token';
      return `AWS refused the request (${type}): ${hint}`;
    },
  };
}
