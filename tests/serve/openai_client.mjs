// openai_client.mjs: chirp serve driven by the official OpenAI Node client.
// Started by tests/test_serve_http.c with the server already listening:
//   PORT, API_KEY, MODEL_DIR, CHIRP_BIN in the environment.
// Prints one line per check; exits 0 when all pass, 1 on a failure, 77 when
// the client package is not installed (scripts/setup-npm).
import { execFileSync } from 'node:child_process';
import { assert, check, finish, requirePackage } from '../npm/harness.mjs';

const openai = requirePackage('openai');
const OpenAI = openai.default ?? openai;

const { PORT, API_KEY, MODEL_DIR, CHIRP_BIN } = process.env;
const base = `http://127.0.0.1:${PORT}`;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: API_KEY, maxRetries: 0, timeout: 60000 });
const user = (content) => [{ role: 'user', content }];

async function streamText(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = '';
  let finish = null;
  let roleSeen = false;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role === 'assistant') roleSeen = true;
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish, roleSeen, usage };
}

async function completionText(params) {
  const r = await client.completions.create(params);
  return r.choices[0].text;
}

await check('models.list names the served model', async () => {
  const list = await client.models.list();
  assert(list.data.length === 1 && list.data[0].object === 'model', JSON.stringify(list.data));
  const one = await client.models.retrieve(list.data[0].id);
  assert(one.id === list.data[0].id, 'retrieve');
});

await check('chat completion has OpenAI\'s shape', async () => {
  const r = await client.chat.completions.create({ model: 'any', messages: user('Good morning!'), max_tokens: 12, seed: 1 });
  assert(r.object === 'chat.completion' && r.id.startsWith('chatcmpl-'), r.object);
  const c = r.choices[0];
  assert(c.index === 0 && c.message.role === 'assistant' && typeof c.message.content === 'string', JSON.stringify(c));
  assert(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
  assert(r.usage.prompt_tokens > 0 && r.usage.completion_tokens <= 12, JSON.stringify(r.usage));
  assert(r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, 'total');
});

await check('completions equal chirp generate with the same settings', async () => {
  const prompt = 'Once upon a time a bird';
  const text = await completionText({ model: 'm', prompt, max_tokens: 30, temperature: 0.8, top_k: 40, top_p: 0.95, seed: 11 });
  const cli = execFileSync(CHIRP_BIN, ['generate', '--model', MODEL_DIR, '--prompt', prompt, '--max-tokens', '30',
    '--temperature', '0.8', '--top-k', '40', '--top-p', '0.95', '--seed', '11'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  // generate ends its output with a newline when the text does not.
  const expect = text.endsWith('\n') ? text : text + '\n';
  assert(cli === expect, `server ${JSON.stringify(text)} vs generate ${JSON.stringify(cli)}`);
  assert(text.length > 10, 'some text');
});

await check('streaming with usage: role first, same text as unstreamed, usage chunk', async () => {
  const params = { model: 'm', messages: user('Tell me about birds'), max_tokens: 25, temperature: 0.9, seed: 5 };
  const whole = await client.chat.completions.create(params);
  const s = await streamText({ ...params, stream_options: { include_usage: true } });
  assert(s.roleSeen, 'no role delta');
  assert(s.text === whole.choices[0].message.content, `stream ${JSON.stringify(s.text)} vs ${JSON.stringify(whole.choices[0].message.content)}`);
  assert(s.finish === whole.choices[0].finish_reason, 'finish');
  assert(s.usage && s.usage.completion_tokens === whole.usage.completion_tokens, JSON.stringify(s.usage));
});

await check('n=2: two choices, choice j sampled with seed + j', async () => {
  const r = await client.completions.create({ model: 'm', prompt: 'Good', max_tokens: 15, n: 2, temperature: 1, seed: 40 });
  assert(r.choices.length === 2 && r.choices[0].index === 0 && r.choices[1].index === 1, 'indices');
  const second = await completionText({ model: 'm', prompt: 'Good', max_tokens: 15, temperature: 1, seed: 41 });
  assert(r.choices[1].text === second, 'seed + 1');
});

await check('stop strings end the text before them', async () => {
  const full = await completionText({ model: 'm', prompt: 'Once upon', max_tokens: 40, temperature: 0 });
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
  const r = await client.completions.create({ model: 'm', prompt: 'Once upon', max_tokens: 40, temperature: 0, stop: [stop] });
  assert(r.choices[0].text === full.slice(0, full.indexOf(stop)), `${JSON.stringify(r.choices[0].text)} / stop ${JSON.stringify(stop)}`);
  assert(r.choices[0].finish_reason === 'stop', r.choices[0].finish_reason);
});

await check('seeds: same seed same text, other seed other text', async () => {
  const p = { model: 'm', messages: user('Sing'), max_tokens: 30, temperature: 1.0 };
  const a = await client.chat.completions.create({ ...p, seed: 7 });
  const b = await client.chat.completions.create({ ...p, seed: 7 });
  const c = await client.chat.completions.create({ ...p, seed: 8 });
  assert(a.choices[0].message.content === b.choices[0].message.content, 'same seed');
  assert(a.choices[0].message.content !== c.choices[0].message.content, 'other seed');
});

await check('16 concurrent streams equal the same requests one at a time', async () => {
  const reqs = Array.from({ length: 16 }, (_, i) => ({
    model: 'm', messages: user(`Bird number ${i} sang`), max_tokens: 20 + i, temperature: i % 4 ? 0.9 : 0, seed: 200 + i,
  }));
  const alone = [];
  for (const r of reqs) alone.push(await streamText(r));
  const together = await Promise.all(reqs.map((r) => streamText(r)));
  for (let i = 0; i < 16; i++) assert(together[i].text === alone[i].text, `request ${i} differs`);
});

await check('logprobs: one entry per token, top alternatives sorted', async () => {
  const r = await client.chat.completions.create({ model: 'm', messages: user('Hi'), max_tokens: 6, logprobs: true, top_logprobs: 3, seed: 2 });
  const lp = r.choices[0].logprobs.content;
  assert(lp.length >= r.usage.completion_tokens && lp.length > 0, `${lp.length} entries`);
  for (const t of lp) {
    assert(t.logprob <= 0 && t.top_logprobs.length === 3, JSON.stringify(t));
    assert(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob, 'sorted');
  }
});

await check('a client that disconnects frees its slot within a second', async () => {
  // <|endoftext|> and <|im_end|> get no chance, so the reply runs to the
  // end of the 2048-token context unless the disconnect stops it.
  const stops = (await (await fetch(`${base}/tokenize`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ content: '<|endoftext|><|im_end|>', add_special: true }) })).json()).tokens;
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'm', messages: user('Talk for a long time'), max_tokens: 100000, stream: true, temperature: 1, seed: 3,
      logit_bias: Object.fromEntries(stops.map((t) => [t, -100])) },
    { signal: ac.signal });
  let chunks = 0;
  let during = -1;
  try {
    for await (const _ of stream) {
      if (++chunks === 3) {
        during = (await (await fetch(`${base}/health`)).json()).slots_processing;
        ac.abort();
      }
    }
  } catch { /* the abort */ }
  assert(during === 1, `the reply was not running when the client left (${during})`);
  const t0 = Date.now();
  let busy = 1;
  while (Date.now() - t0 < 3000) {
    busy = (await (await fetch(`${base}/health`)).json()).slots_processing;
    if (busy === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = Date.now() - t0;
  console.log(`     slot free ${ms} ms after the disconnect`);
  assert(busy === 0 && ms <= 1000, `still ${busy} busy after ${ms} ms`);
});

await check('auth: a wrong key is a 401 AuthenticationError', async () => {
  const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
  try {
    await bad.models.list();
    throw new Error('accepted');
  } catch (e) {
    assert(e instanceof OpenAI.AuthenticationError && e.status === 401, `${e}`);
  }
  const health = await fetch(`${base}/health`);
  assert(health.status === 200, '/health stays public');
});

await check('errors: 400 names the field, 404, 405, 413 through the client and fetch', async () => {
  try {
    await client.chat.completions.create({ model: 'm', messages: user('x'), temperature: 7 });
    throw new Error('accepted');
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature', `${e} ${e.param}`);
  }
  try {
    await client.chat.completions.create({ model: 'm', messages: user('word '.repeat(3000)) });
    throw new Error('accepted');
  } catch (e) {
    assert(e.status === 400 && /maximum context length is \d+ tokens, but the prompt is \d+ tokens/.test(e.message), e.message);
  }
  try {
    await client.models.retrieve('no-such-model');
    throw new Error('accepted');
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError, `${e}`);
  }
  const auth = { Authorization: `Bearer ${API_KEY}` };
  const r405 = await fetch(`${base}/v1/chat/completions`, { headers: auth });
  assert(r405.status === 405 && (await r405.json()).error.type === 'invalid_request_error', `${r405.status}`);
  const r413 = await fetch(`${base}/v1/completions`, { method: 'POST', headers: auth, body: 'x'.repeat(200000) });
  assert(r413.status === 413, `${r413.status}`);
  const r400 = await fetch(`${base}/v1/completions`, { method: 'POST', headers: auth, body: '{"prompt": ' });
  assert(r400.status === 400 && (await r400.json()).error.message.includes('not valid JSON'), `${r400.status}`);
});

await check('tokenize and detokenize round-trip', async () => {
  const auth = { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' };
  const t = await (await fetch(`${base}/tokenize`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'Good morning! café' }) })).json();
  assert(Array.isArray(t.tokens) && t.tokens.length > 0, JSON.stringify(t));
  const d = await (await fetch(`${base}/detokenize`, { method: 'POST', headers: auth, body: JSON.stringify({ tokens: t.tokens }) })).json();
  assert(d.content === 'Good morning! café', JSON.stringify(d));
});

await check('metrics count what happened', async () => {
  const text = await (await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${API_KEY}` } })).text();
  assert(/chirp_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} \d+/.test(text), 'requests');
  assert(/chirp_completion_tokens_total [1-9]\d*/.test(text), 'tokens');
  assert(/chirp_time_to_first_token_seconds_count [1-9]/.test(text), 'ttft');
});

finish();
