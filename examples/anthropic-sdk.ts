/**
 * The official Anthropic SDK against a meshgate node: `npx tsx examples/anthropic-sdk.ts [model]`. The model may be
 * served by any provider: the node translates Anthropic Messages to OpenAI or Gemini and back, tools included.
 */
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.MESHGATE_URL ?? 'http://127.0.0.1:8930', apiKey: process.env.MESHGATE_TOKEN ?? 'none' });
const model = process.argv[2] ?? 'claude-sonnet-4-5';

const stream = client.messages.stream({
  model,
  max_tokens: 512,
  tools: [{ name: 'get_weather', description: 'Current weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
  messages: [{ role: 'user', content: 'What is the weather in Oslo?' }],
});
stream.on('text', (text) => process.stdout.write(text));
const message = await stream.finalMessage();
console.log(`\nstop_reason: ${message.stop_reason}`, message.content.filter((b) => b.type === 'tool_use'));
