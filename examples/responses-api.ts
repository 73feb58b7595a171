/**
 * The OpenAI Responses API against a meshgate node: `npx tsx examples/responses-api.ts [first-model] [second-model]`.
 * The conversation starts on one model and continues on another with `previous_response_id`: the node keeps the
 * first response and rebuilds the conversation for whichever provider serves the second model.
 */
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.MESHGATE_URL ?? 'http://127.0.0.1:8930/v1', apiKey: process.env.MESHGATE_TOKEN ?? 'none' });
const first = process.argv[2] ?? 'gpt-4o-mini';
const second = process.argv[3] ?? 'claude-sonnet-4-5';

const opening = await client.responses.create({ model: first, instructions: 'Be brief.', input: 'My name is Ada. Say hello.' });
console.log(`${first}: ${opening.output_text} (${opening.id})`);

const stream = client.responses.stream({ model: second, previous_response_id: opening.id, input: 'What is my name?' });
process.stdout.write(`${second}: `);
stream.on('response.output_text.delta', (event) => process.stdout.write(event.delta));
const reply = await stream.finalResponse();
console.log(`\n(${reply.usage?.input_tokens} input tokens: the whole conversation went to ${second})`);
