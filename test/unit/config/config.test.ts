import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/index.js';

async function tomlFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-config-'));
  const file = join(dir, 'meshgate.toml');
  await writeFile(file, text);
  return file;
}

describe('config', () => {
  it('gives sane defaults with no file and no provider variables', async () => {
    const { config, source } = await loadConfig({ env: {} });
    expect(source).toBe('defaults + environment');
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8930, trust_proxy: false });
    expect(config.storage.dir).toBe('./data');
    expect(config.providers).toEqual([]);
  });

  it('finds providers in the usual environment variables and wraps their keys', async () => {
    const { config } = await loadConfig({
      env: { OPENAI_API_KEY: 'sk-test-1', ANTHROPIC_API_KEY: 'sk-ant-2', GEMINI_API_KEY: 'AIza3', AZURE_OPENAI_API_KEY: 'az', AZURE_OPENAI_ENDPOINT: 'https://x.openai.azure.com', AZURE_OPENAI_DEPLOYMENT: 'gpt4o', OLLAMA_HOST: '127.0.0.1:11434' },
    });
    expect(config.providers.map((p) => `${p.id}:${p.type}`)).toEqual(['openai:openai', 'anthropic:anthropic', 'gemini:gemini', 'azure:azure_openai', 'ollama:openai_compatible']);
    expect(config.providers[0]!.api_key!.reveal()).toBe('sk-test-1');
    expect(JSON.stringify(config)).not.toContain('sk-test-1');
    expect(String(config.providers[1]!.api_key)).toBe('[redacted]');
    expect(config.providers[4]!.base_url).toBe('http://127.0.0.1:11434/v1');
  });

  it('starts without Azure OpenAI, saying why, when its key and endpoint are set without a deployment', async () => {
    // The variables Azure's own tools set; a deployment name has no standard variable and no list to discover it from.
    const { config, notes } = await loadConfig({ env: { OPENAI_API_KEY: 'sk-test-1', AZURE_OPENAI_API_KEY: 'az', AZURE_OPENAI_ENDPOINT: 'https://x.openai.azure.com' } });
    expect(config.providers.map((p) => p.id)).toEqual(['openai']);
    expect(notes).toEqual([expect.stringMatching(/AZURE_OPENAI_DEPLOYMENT/)]);
    expect((await loadConfig({ env: { OPENAI_API_KEY: 'sk-test-1' } })).notes).toEqual([]);
  });

  it('picks up every named preset whose variable is set: hosted ones by their key, local servers by their address', async () => {
    const { config } = await loadConfig({
      env: { GROQ_API_KEY: 'gsk-1', OPENROUTER_API_KEY: 'or-2', DASHSCOPE_API_KEY: 'ds-3', VLLM_BASE_URL: 'http://gpu:8000/v1', VLLM_API_KEY: 'vl-4', LLAMA_API_KEY: 'no-address' },
    });
    expect(config.providers.map((p) => `${p.id}:${p.type}:${p.preset}`)).toEqual(['openrouter:openai_compatible:openrouter', 'groq:openai_compatible:groq', 'dashscope:openai_compatible:dashscope', 'vllm:openai_compatible:vllm']);
    expect(config.providers.find((p) => p.id === 'groq')).toMatchObject({ base_url: 'https://api.groq.com/openai/v1' });
    expect(config.providers.find((p) => p.id === 'groq')!.api_key!.reveal()).toBe('gsk-1');
    expect(config.providers.find((p) => p.id === 'vllm')).toMatchObject({ base_url: 'http://gpu:8000/v1' });
    expect(config.providers.find((p) => p.id === 'vllm')!.api_key!.reveal()).toBe('vl-4');
    expect(JSON.stringify(config)).not.toMatch(/gsk-1|or-2|ds-3|vl-4/);
  });

  it('reads OLLAMA_HOST as Ollama does: a bare host means port 11434', async () => {
    const cases: Array<[string, string]> = [
      ['0.0.0.0', 'http://0.0.0.0:11434/v1'], ['localhost', 'http://localhost:11434/v1'], [':11500', 'http://127.0.0.1:11500/v1'],
      ['gpu-box:8080', 'http://gpu-box:8080/v1'], ['http://gpu-box', 'http://gpu-box/v1'], ['https://ollama.example/', 'https://ollama.example/v1'],
      ['::1', 'http://[::1]:11434/v1'], ['[::1]:9000', 'http://[::1]:9000/v1'],
    ];
    for (const [host, url] of cases) {
      const { config } = await loadConfig({ env: { OLLAMA_HOST: host } });
      expect(config.providers[0]!.base_url, host).toBe(url);
    }
  });

  it('refuses a ${…} that is not a valid reference instead of sending it on as text; $${ is a literal', async () => {
    for (const written of ['${OPENAI-KEY}', '${ K }', 'prefix-${K-dflt}']) {
      const file = await tomlFile(`[[providers]]\nid = "p"\ntype = "openai"\napi_key = "${written}"\nmodels = ["m"]\n`);
      await expect(loadConfig({ file, env: { K: 'v' } }), written).rejects.toThrow(/providers\[0\]\.api_key: .*not a valid variable reference/);
    }
    const file = await tomlFile(`[[providers]]\nid = "p"\ntype = "openai"\napi_key = "$\${LITERAL}-\${K}"\nmodels = ["m"]\n`);
    const { config } = await loadConfig({ file, env: { K: 'a${b' } });
    expect(config.providers[0]!.api_key!.reveal()).toBe('${LITERAL}-a${b');
  });

  it('turns a ${VAR} written where a number or boolean belongs into one, and only then', async () => {
    const file = await tomlFile(`[server]\nport = "\${PORT}"\nmax_concurrent = "\${MAX:-64}"\n[mesh]\nenabled = "\${MESH}"\nlisten = ["/ip4/127.0.0.1/tcp/0"]\n`);
    const { config } = await loadConfig({ file, env: { PORT: '9100', MESH: 'false' } });
    expect(config.server.port).toBe(9100);
    expect(config.server.max_concurrent).toBe(64);
    expect(config.mesh.enabled).toBe(false);
    await expect(loadConfig({ file, env: { PORT: 'eighty', MESH: 'false' } })).rejects.toThrow(/server\.port/);
    const literal = await tomlFile(`[server]\nport = "9100"\n`);
    await expect(loadConfig({ file: literal, env: {} })).rejects.toThrow(/server\.port/); // a number written as text stays an error
  });

  it('reads a TOML file, substitutes ${VAR} and applies command-line overrides', async () => {
    const file = await tomlFile(`
[server]
port = 9000
[[providers]]
id = "main"
type = "openai"
api_key = "\${MY_KEY}"
base_url = "\${BASE:-http://127.0.0.1:1/v1}"
models = ["gpt-4o"]
`);
    const { config } = await loadConfig({ file, env: { MY_KEY: 'k1' }, overrides: { port: 1234, dataDir: '/tmp/x' } });
    expect(config.server.port).toBe(1234);
    expect(config.storage.dir).toBe('/tmp/x');
    expect(config.providers[0]!.base_url).toBe('http://127.0.0.1:1/v1');
    expect(config.providers[0]!.api_key!.reveal()).toBe('k1');
  });

  it('names the key, the file and the expectation for a wrong type', async () => {
    const file = await tomlFile(`[server]\nport = "eighty"\n`);
    const error = await loadConfig({ file, env: {} }).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/server\.port: .*number/i);
  });

  it('collects the heap of a node idle for a minute by default; 0 turns it off, and a time shorter than idling itself is refused', () => {
    expect(parseConfig({}, 'x.toml').server.idle_heap_reclaim_seconds).toBe(60);
    expect(parseConfig({ server: { idle_heap_reclaim_seconds: 0 } }, 'x.toml').server.idle_heap_reclaim_seconds).toBe(0);
    expect(parseConfig({ server: { idle_heap_reclaim_seconds: 10 } }, 'x.toml').server.idle_heap_reclaim_seconds).toBe(10);
    expect(() => parseConfig({ server: { idle_heap_reclaim_seconds: 5 } }, 'x.toml')).toThrow(/server\.idle_heap_reclaim_seconds: must be 0 \(never\) or at least 10/);
    // Past what a timer can wait, Node would fire it at once: the opposite of what a long time asks.
    expect(() => parseConfig({ server: { idle_heap_reclaim_seconds: 3_000_000 } }, 'x.toml')).toThrow(/server\.idle_heap_reclaim_seconds: must be at most 2147483/);
  });

  it('rejects unknown keys, naming them', () => {
    expect(() => parseConfig({ server: { prot: 1 } }, 'x.toml')).toThrow(/server: unknown key\(s\) "prot"/);
    expect(() => parseConfig({ providers: [{ id: 'a', type: 'openai', colour: 'red' }] }, 'x.toml')).toThrow(/providers\[0\]: unknown key\(s\) "colour"/);
  });

  it('rejects a bad provider type and lists the allowed ones', () => {
    expect(() => parseConfig({ providers: [{ id: 'a', type: 'openia' }] }, 'x.toml')).toThrow(/providers\[0\]\.type: .*"openai"/);
  });

  it('names a missing environment variable without printing any value', () => {
    expect(() => parseConfig({ providers: [{ id: 'a', type: 'openai', api_key: '${NOPE_KEY}' }] }, 'x.toml', {})).toThrow(
      /x\.toml:\n  providers\[0\]\.api_key: environment variable NOPE_KEY is not set/,
    );
  });

  it('requires a base_url where a provider type has no default, and unique ids', () => {
    expect(() => parseConfig({ providers: [{ id: 'local', type: 'openai_compatible' }] }, 'x.toml')).toThrow(/providers\[0\]\.base_url: base_url is required/);
    expect(() => parseConfig({ providers: [{ id: 'a', type: 'openai' }, { id: 'a', type: 'anthropic' }] }, 'x.toml')).toThrow(/providers\[1\]\.id: duplicate provider id "a"/);
  });

  it('reports invalid TOML with its position', async () => {
    const file = await tomlFile(`[server\nport = 1`);
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(/not valid TOML \(line \d+, column \d+\)/);
  });
});
