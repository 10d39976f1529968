// chat.js: the chat page of chirp serve. Plain browser JavaScript, no
// libraries: it talks to the same OpenAI-compatible API as any client
// (POST /v1/chat/completions with stream: true) and reads the SSE stream
// from fetch(), so a Stop click aborts the request and frees the slot.
'use strict';

const $ = (id) => document.getElementById(id);
const els = {
  messages: $('messages'), empty: $('empty'), form: $('composer'), input: $('input'), send: $('send'),
  stop: $('stop'), status: $('status'), newChat: $('new-chat'), toggle: $('toggle-about'), about: $('about'),
  system: $('system'), temperature: $('temperature'), temperatureValue: $('temperature-value'),
  maxTokens: $('max-tokens'), apiKey: $('api-key'), modelName: $('model-name'),
  modelInfo: $('model-info'), trainingInfo: $('training-info'),
};

let history = [];      // {role, content} of the finished turns
let controller = null; // the reply in flight
let modelId = 'chirp';

const saved = (key, fallback) => localStorage.getItem(`chirp.${key}`) ?? fallback;
els.system.value = saved('system', '');
els.temperature.value = saved('temperature', '0.8');
els.maxTokens.value = saved('maxTokens', '256');
els.apiKey.value = saved('apiKey', '');
els.temperatureValue.textContent = els.temperature.value;
for (const [el, key] of [[els.system, 'system'], [els.temperature, 'temperature'], [els.maxTokens, 'maxTokens'], [els.apiKey, 'apiKey']]) {
  el.addEventListener('input', () => {
    localStorage.setItem(`chirp.${key}`, el.value);
    if (el === els.temperature) els.temperatureValue.textContent = el.value;
  });
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (els.apiKey.value) h.Authorization = `Bearer ${els.apiKey.value}`;
  return h;
}

function addMessage(role, text) {
  els.empty.hidden = true;
  const li = document.createElement('li');
  li.className = `message ${role}`;
  const who = document.createElement('span');
  who.className = 'role';
  who.textContent = role === 'user' ? 'You' : role === 'assistant' ? 'Model' : 'Error';
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  li.append(who, body);
  els.messages.append(li);
  li.scrollIntoView({ block: 'end' });
  return { li, body };
}

function setBusy(busy) {
  els.send.disabled = busy;
  els.stop.hidden = !busy;
  els.input.disabled = busy;
  if (!busy) els.input.focus();
}

// Yields the JSON payloads of an SSE stream ("data: ..." events).
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (!data) continue; // ": ping" keep-alives
      if (data === '[DONE]') return;
      yield JSON.parse(data);
    }
  }
}

async function send(text) {
  history.push({ role: 'user', content: text });
  addMessage('user', text);
  const reply = addMessage('assistant', '');
  reply.li.classList.add('streaming');
  setBusy(true);
  els.status.textContent = 'Thinking…';
  controller = new AbortController();
  let content = '';
  let finish = null;
  const started = performance.now();
  let tokens = 0;
  let dropped = 0;
  try {
    let response;
    for (;;) {
      const system = els.system.value.trim();
      const messages = system ? [{ role: 'system', content: system }, ...history] : history;
      response = await fetch('/v1/chat/completions', {
        method: 'POST', headers: headers(), signal: controller.signal,
        body: JSON.stringify({
          model: modelId, messages, stream: true, stream_options: { include_usage: true },
          temperature: Number(els.temperature.value), max_tokens: Number(els.maxTokens.value) || undefined,
        }),
      });
      if (response.ok) break;
      const err = await response.json().catch(() => ({}));
      // Too long for the model's context: drop the oldest exchange and
      // try again, as chirp chat does (the newest message always stays).
      if (err.error?.code === 'context_length_exceeded' && history.length > 1) {
        history.splice(0, history.length > 2 ? 2 : 1);
        dropped++;
        continue;
      }
      throw new Error(err.error?.message ?? `HTTP ${response.status}`);
    }
    if (dropped) els.status.textContent = 'Older turns were left out to fit the model\'s context.';
    for await (const chunk of sseEvents(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      for (const choice of chunk.choices ?? []) {
        if (choice.delta?.content) {
          content += choice.delta.content;
          reply.body.textContent = content;
          reply.li.scrollIntoView({ block: 'end' });
          els.status.textContent = 'Writing…';
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    const secs = (performance.now() - started) / 1000;
    els.status.textContent = `${tokens} tokens in ${secs.toFixed(1)} s` + (finish === 'length' ? ' (stopped at the length limit)' : '')
      + (dropped ? '; older turns were left out to fit the context' : '');
  } catch (e) {
    if (e.name === 'AbortError') {
      els.status.textContent = 'Stopped.';
    } else {
      reply.li.classList.add('error');
      reply.body.textContent = content ? `${content}\n[${e.message}]` : e.message;
      els.status.textContent = '';
      if (/API key/.test(e.message)) openAbout(true);
    }
  } finally {
    reply.li.classList.remove('streaming');
    if (content) history.push({ role: 'assistant', content });
    else history.pop(); // nothing came back: the turn is not part of the conversation
    controller = null;
    setBusy(false);
  }
}

function stop() {
  if (controller) controller.abort();
}

function newChat() {
  stop();
  history = [];
  els.messages.replaceChildren();
  els.empty.hidden = false;
  els.status.textContent = 'New conversation.';
  els.input.value = '';
  els.input.focus();
}

function openAbout(open) {
  els.about.hidden = !open;
  els.toggle.setAttribute('aria-expanded', String(open));
}

function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
  if (!dl.children.length) {
    const dd = document.createElement('dd');
    dd.textContent = 'Not recorded.';
    dl.append(dd);
  }
}

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : n);

async function loadInfo() {
  try {
    const r = await fetch('/info', { headers: headers() });
    if (!r.ok) throw new Error(r.status === 401 ? 'needs the API key (Settings)' : `HTTP ${r.status}`);
    const info = await r.json();
    modelId = info.model;
    els.modelName.textContent = info.model;
    const c = info.config;
    facts(els.modelInfo, [
      ['Name', info.model], ['Parameters', fmt(c.n_params)], ['Layers', c.n_layer], ['Heads', c.n_head],
      ['Width', c.n_embd], ['Context', `${fmt(c.n_ctx)} tokens`], ['Vocabulary', fmt(c.vocab_size)],
      ['Weights', c.quantization === 'int8' ? 'int8' : 'fp32'], ['Chat template', info.chat_template],
    ]);
    const t = info.training ?? {};
    const p = t.provenance ?? {};
    // The largest sources by posts kept, then how many more.
    const all = [...(p.sources ?? [])].sort((a, b) => b.kept - a.kept);
    const base = (f) => f.split('/').filter(Boolean).pop() ?? f;
    const sources = all.length === 0 ? undefined
      : all.slice(0, 5).map((s) => `${base(s.path)} [${s.format}]: ${fmt(s.kept)} of ${fmt(s.read)}`).join('; ')
        + (all.length > 5 ? `; and ${all.length - 5} more (${all.length} in all)` : '');
    facts(els.trainingInfo, [
      ['Steps', t.step !== undefined ? `${fmt(t.step)}${t.steps ? ` of ${fmt(t.steps)}` : ''}` : undefined],
      ['Tokens seen', fmt(t.tokens_seen)], ['Last train loss', t.train_loss?.toFixed?.(3)],
      ['Dataset', p.dataset], ['Data sources', sources], ['Posts kept', fmt(p.posts_kept)], ['Posts read', fmt(p.posts_read)],
      ['Opt-outs honoured', p.optout_removed !== undefined ? `${fmt(p.optout_removed)} posts removed` : undefined],
      ['Dropped', p.dropped ? Object.entries(p.dropped).map(([k, v]) => `${k}: ${fmt(v)}`).join(', ') : undefined],
      ['Train shards', (t.train_shards ?? []).join(', ') || undefined],
    ]);
  } catch (e) {
    facts(els.modelInfo, [['Unavailable', e.message]]);
    facts(els.trainingInfo, []);
  }
}

els.form.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = els.input.value.trim();
  if (!text || controller) return;
  els.input.value = '';
  send(text);
});
els.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    els.form.requestSubmit();
  }
});
els.stop.addEventListener('click', stop);
els.newChat.addEventListener('click', newChat);
els.toggle.addEventListener('click', () => openAbout(els.about.hidden));
els.apiKey.addEventListener('change', loadInfo);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && controller) stop();
  if (e.key === 'N' && e.ctrlKey && e.shiftKey) {
    e.preventDefault();
    newChat();
  }
});

loadInfo();
els.input.focus();
