import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/index.js';
import { providerSchema } from '../../../src/core-config/index.js';
import { vertexEndpoints } from '../../../src/providers/vertex/endpoints.js';

let dir: string;
let keyFile: string;
const KEY = { type: 'service_account', project_id: 'project-from-key', private_key: '-----BEGIN PRIVATE KEY-----\nMIIBVQ==\n-----END PRIVATE KEY-----\n', client_email: 'sa@project-from-key.iam.gserviceaccount.com' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-vertex-'));
  keyFile = join(dir, 'key.json');
  await writeFile(keyFile, JSON.stringify(KEY));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const config = (vertex: Record<string, unknown>) => providerSchema.parse({ id: 'vertex', type: 'vertex', models: ['*'], vertex });

describe('Vertex endpoints', () => {
  it('builds regional and global URLs per publisher, keeping a Claude version\'s @', () => {
    const regional = vertexEndpoints(config({ project: 'my-project-1', region: 'us-east5', access_token: 't' }), {});
    expect(regional.url('chat', 'gemini-2.5-flash', false)).toBe('https://us-east5-aiplatform.googleapis.com/v1/projects/my-project-1/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent');
    expect(regional.url('chat', 'gemini-2.5-flash', true)).toMatch(/publishers\/google\/models\/gemini-2\.5-flash:streamGenerateContent\?alt=sse$/);
    expect(regional.url('chat', 'claude-opus-4-1@20250805', true)).toBe('https://us-east5-aiplatform.googleapis.com/v1/projects/my-project-1/locations/us-east5/publishers/anthropic/models/claude-opus-4-1@20250805:streamRawPredict');
    const global = vertexEndpoints(config({ project: 'my-project-1', region: 'global', access_token: 't' }), {});
    expect(global.url('chat', 'claude-sonnet-4-5@20250929', false)).toBe('https://aiplatform.googleapis.com/v1/projects/my-project-1/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict');
    expect(regional.formatFor!('claude-3-5-haiku@20241022')).toBe('anthropic');
    expect(regional.formatFor!('gemini-2.0-flash')).toBe('gemini');
  });

  it('rewrites bodies for Vertex: Claude without model and with its anthropic_version; Gemini contents with a role', () => {
    const endpoints = vertexEndpoints(config({ project: 'my-project-1', access_token: 't' }), {});
    expect(endpoints.prepareBody!('chat', 'claude-sonnet-4-5', { model: 'claude-sonnet-4-5', max_tokens: 5, messages: [] }))
      .toEqual({ max_tokens: 5, messages: [], anthropic_version: 'vertex-2023-10-16' });
    expect(endpoints.prepareBody!('chat', 'gemini-2.5-flash', { contents: [{ parts: [{ text: 'a' }] }, { role: 'model', parts: [{ text: 'b' }] }] }))
      .toEqual({ contents: [{ role: 'user', parts: [{ text: 'a' }] }, { role: 'model', parts: [{ text: 'b' }] }] });
  });

  it('takes the key from GOOGLE_APPLICATION_CREDENTIALS, the project from the key, the region from GOOGLE_CLOUD_LOCATION', () => {
    const endpoints = vertexEndpoints(config({}), { GOOGLE_APPLICATION_CREDENTIALS: keyFile, GOOGLE_CLOUD_LOCATION: 'europe-west4' });
    expect(endpoints.url('chat', 'gemini-2.5-pro', false)).toBe('https://europe-west4-aiplatform.googleapis.com/v1/projects/project-from-key/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent');
  });

  it('refuses to start without credentials or project, and names a broken key file without quoting it', async () => {
    expect(() => vertexEndpoints(config({ project: 'my-project-1' }), {})).toThrow(/no Google credentials/);
    expect(() => vertexEndpoints(config({ access_token: 't' }), {})).toThrow(/needs a project/);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, JSON.stringify({ ...KEY, client_email: undefined, private_key: 'secret-bytes' }));
    const err = (() => { try { vertexEndpoints(config({ project: 'my-project-1', credentials_file: broken }), {}); } catch (e) { return e as Error; } })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/not a service-account key \(check: client_email, private_key\)/);
    expect(err!.message).not.toContain('secret-bytes');
    expect(() => vertexEndpoints(config({ project: 'my-project-1', credentials_file: join(dir, 'absent.json') }), {})).toThrow(/cannot read the service-account key .*ENOENT/);
  });
});
