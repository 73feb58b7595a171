import type { CanonicalMessage } from '../../../../src/formats/canonical.js';

/**
 * A multi-turn tool exchange as an OpenAI or Anthropic client would send it: two parallel calls of the same function
 * answered out of order, then a second call with a plain-text result.
 */
export const weatherConversation: CanonicalMessage[] = [
  { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo, then the time in Tokyo?' }] },
  {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Checking.' },
      { type: 'tool_call', id: 'call_Xy1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'tool_call', id: 'call_Xy2', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ],
  },
  {
    role: 'user',
    content: [
      { type: 'tool_result', toolCallId: 'call_Xy2', content: [{ type: 'text', text: '{"city":"Oslo","t":4}' }] },
      { type: 'tool_result', toolCallId: 'call_Xy1', content: [{ type: 'text', text: '{"city":"Paris","t":18}' }] },
    ],
  },
  { role: 'assistant', content: [{ type: 'text', text: 'Now the time.' }, { type: 'tool_call', id: 'toolu_9', name: 'get_time', arguments: '{"tz":"Asia/Tokyo"}' }] },
  { role: 'user', content: [{ type: 'tool_result', toolCallId: 'toolu_9', content: [{ type: 'text', text: '21:04' }] }] },
  { role: 'assistant', content: [{ type: 'text', text: 'Done.' }] },
];
