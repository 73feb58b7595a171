import { api, request } from '../api.js';
import { clear, errorBox, h, section, table } from '../dom.js';

/** Reads an OpenAI-format SSE stream and calls `onDelta` with each piece of text; returns the final usage if sent. */
async function readStream(response, onDelta) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let usage;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let at;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) onDelta(delta);
        if (chunk.usage) usage = chunk.usage;
      }
    }
  }
  return usage;
}

/** Pick a model, send a chat (streamed or not) through this node, and see the answer and the gateway's headers. */
export async function playgroundView(body) {
  const models = (await api('/v1/models')).data.filter((m) => m.capabilities.includes('chat'));
  const output = h('pre', { class: 'answer', dataset: { testid: 'answer' } });
  const headerBox = h('div', {});
  const select = h('select', { name: 'model' }, models.map((m) => h('option', { value: m.id }, m.id)));
  const system = h('input', { name: 'system', placeholder: 'System prompt (optional)' });
  const message = h('textarea', { name: 'message', rows: 4, placeholder: 'Say something…', required: true });
  const stream = h('input', { type: 'checkbox', name: 'stream', checked: true });
  const form = h('form', { class: 'playground', onsubmit: async (event) => {
    event.preventDefault();
    clear(output);
    clear(headerBox);
    const messages = [...(system.value.trim() ? [{ role: 'system', content: system.value.trim() }] : []), { role: 'user', content: message.value }];
    const started = performance.now();
    try {
      const response = await request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-source': 'portal-playground' },
        body: JSON.stringify({ model: select.value, messages, stream: stream.checked, ...(stream.checked ? { stream_options: { include_usage: true } } : {}) }),
      });
      const shown = [...response.headers].filter(([name]) => name.startsWith('x-meshgate-') || name.startsWith('x-ratelimit-') || name === 'x-request-id' || name === 'content-type');
      headerBox.append(table([{ label: 'Header', value: ([n]) => h('code', {}, n) }, { label: 'Value', value: ([, v]) => v }], [[':status', String(response.status)], ...shown], { testid: 'response-headers' }));
      if (!response.ok) {
        const err = await response.json().catch(() => ({}));
        output.append(errorBox(err.error?.message ?? `HTTP ${response.status}`));
        return;
      }
      let usage;
      if (stream.checked) usage = await readStream(response, (delta) => output.append(delta));
      else {
        const json = await response.json();
        output.append(json.choices?.[0]?.message?.content ?? '');
        usage = json.usage;
      }
      headerBox.append(h('p', { class: 'muted', dataset: { testid: 'usage' } }, `${Math.round(performance.now() - started)} ms${usage ? ` · ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens` : ''}`));
    } catch (err) {
      output.append(errorBox(err));
    }
  } },
  h('div', { class: 'form-row' }, h('label', {}, 'Model', select), h('label', { class: 'inline' }, stream, ' Stream')),
  system, message, h('button', { type: 'submit' }, 'Send'));
  if (models.length === 0) return body.append(h('p', { class: 'empty' }, 'No chat model is served by this node or its peers.'));
  body.append(h('div', { class: 'columns' }, section('Chat', form), section('Answer', output, headerBox)));
}
