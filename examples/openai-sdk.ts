/**
 * The official OpenAI SDK against a meshgate node: `npx tsx examples/openai-sdk.ts` with a node running on
 * 127.0.0.1:8930. Any model the node (or its mesh) serves works, Anthropic and Gemini models included.
 */
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.MESHGATE_URL ?? 'http://127.0.0.1:8930/v1', apiKey: process.env.MESHGATE_TOKEN ?? 'none' });
const model = process.argv[2] ?? 'gpt-4o-mini';

const { data, response } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello in five words.' }] }).withResponse();
console.log(`${data.choices[0]?.message.content}\n(served by ${response.headers.get('x-meshgate-provider')}, ${data.usage?.total_tokens} tokens)`);

const stream = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Count to five.' }] });
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '');
console.log();
