// The official `openai` npm package against `vkgemma serve` (run by server_test.py node, which starts
// the server and sets VKG_BASE_URL, VKG_API_KEY and NODE_PATH). Exits non-zero on the first failure.
'use strict';
const assert = require('node:assert/strict');
const OpenAI = require('openai');

const client = new OpenAI({ baseURL: process.env.VKG_BASE_URL, apiKey: process.env.VKG_API_KEY, maxRetries: 0 });
const tools = [{
  type: 'function',
  function: { name: 'get_time', description: 'The current time.', parameters: { type: 'object', properties: {} } },
}];

async function main() {
  const models = await client.models.list();
  assert.equal(models.data[0].id, 'vkgemma-builtin');

  const params = { model: 'vkgemma-builtin', messages: [{ role: 'user', content: 'Why is the sky blue?' }],
                   max_tokens: 12, seed: 42, temperature: 0.8 };
  const whole = await client.chat.completions.create(params);
  assert.equal(whole.object, 'chat.completion');
  const text = whole.choices[0].message.content;
  assert.equal(typeof text, 'string');
  assert.ok(['stop', 'length'].includes(whole.choices[0].finish_reason));
  assert.ok(whole.usage.prompt_tokens > 0);

  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let streamed = '';
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) streamed += c.delta.content || '';
  }
  assert.equal(streamed, text, 'streamed text == non-streamed text (same seed)');
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);

  // Tool call round trip: assistant tool_calls -> tool message -> answer.
  const ask = { model: 'vkgemma-builtin', messages: [{ role: 'user', content: 'What time is it?' }], tools,
                tool_choice: { type: 'function', function: { name: 'get_time' } }, max_tokens: 8, seed: 1 };
  const r1 = await client.chat.completions.create(ask);
  assert.equal(r1.choices[0].finish_reason, 'tool_calls');
  const call = r1.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_time');
  assert.deepEqual(JSON.parse(call.function.arguments), {});
  const r2 = await client.chat.completions.create({
    ...ask, tool_choice: 'auto',
    messages: [...ask.messages, r1.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '12:30' }],
  });
  assert.equal(typeof r2.choices[0].message, 'object');
  assert.ok(r2.usage.prompt_tokens > r1.usage.prompt_tokens);

  // Errors come back as the SDK's typed errors.
  await assert.rejects(client.chat.completions.create({ ...params, n: 2 }), (e) => e.status === 400 && e instanceof OpenAI.BadRequestError);
  const bad = new OpenAI({ baseURL: process.env.VKG_BASE_URL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401 && e instanceof OpenAI.AuthenticationError);
  console.log('openai node client: ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
