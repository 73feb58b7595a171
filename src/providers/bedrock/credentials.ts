import { ConfigError, Secret } from '../../core/index.js';
import type { ProviderConfig } from '../../core-config/index.js';

/**
 * How a Bedrock provider authenticates, resolved once at start from its config, then from the variables the AWS
 * SDKs read. Bearer mode is Bedrock's API key (https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html);
 * otherwise requests are signed with SigV4 (service `bedrock`). What the config names wins over the environment,
 * and within each the API key wins over access keys, as in the AWS SDK.
 */
export type BedrockCredentials =
  | { kind: 'bearer'; token: Secret }
  | { kind: 'sigv4'; accessKeyId: string; secretAccessKey: Secret; sessionToken?: Secret };

export interface BedrockAuth {
  region: string;
  credentials: BedrockCredentials;
}

const nonEmpty = (value: string | undefined): value is string => typeof value === 'string' && value !== '';

export function resolveBedrockAuth(config: ProviderConfig, env: NodeJS.ProcessEnv): BedrockAuth {
  const region = config.aws?.region ?? [env.AWS_REGION, env.AWS_DEFAULT_REGION].find(nonEmpty);
  if (!region) {
    throw new ConfigError(`provider ${config.id}: Bedrock needs a region: set aws.region (or AWS_REGION)`);
  }
  const credentials = fromConfig(config) ?? fromEnv(env);
  if (!credentials) {
    throw new ConfigError(
      `provider ${config.id}: no AWS credentials: set api_key (a Bedrock API key) or aws.access_key_id + aws.secret_access_key, `
      + 'or AWS_BEARER_TOKEN_BEDROCK, or AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)',
    );
  }
  return { region, credentials };
}

function fromConfig(config: ProviderConfig): BedrockCredentials | undefined {
  if (config.api_key && !config.api_key.isEmpty) return { kind: 'bearer', token: config.api_key };
  const aws = config.aws;
  if (aws?.access_key_id && aws.secret_access_key) {
    return { kind: 'sigv4', accessKeyId: aws.access_key_id, secretAccessKey: aws.secret_access_key, ...(aws.session_token ? { sessionToken: aws.session_token } : {}) };
  }
  return undefined;
}

function fromEnv(env: NodeJS.ProcessEnv): BedrockCredentials | undefined {
  if (nonEmpty(env.AWS_BEARER_TOKEN_BEDROCK)) return { kind: 'bearer', token: new Secret(env.AWS_BEARER_TOKEN_BEDROCK) };
  if (nonEmpty(env.AWS_ACCESS_KEY_ID) && nonEmpty(env.AWS_SECRET_ACCESS_KEY)) {
    return {
      kind: 'sigv4',
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: new Secret(env.AWS_SECRET_ACCESS_KEY),
      ...(nonEmpty(env.AWS_SESSION_TOKEN) ? { sessionToken: new Secret(env.AWS_SESSION_TOKEN) } : {}),
    };
  }
  return undefined;
}
