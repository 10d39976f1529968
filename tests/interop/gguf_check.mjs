// gguf_check.mjs: reads a GGUF file written by `chirp export` with Hugging
// Face's own parser (npm @huggingface/gguf) and checks it against the model
// directory it came from, read here independently (config.json,
// tokenizer.json, model.safetensors):
//   - every metadata key with its GGUF type and value;
//   - the vocabulary, token types and merges against tokenizer.json;
//   - every tensor's name, shape, dtype and offset (aligned, in order,
//     sized for its dtype);
//   - f32 data equal to the safetensors values (with the Conv1D weights
//     transposed), f16 within half-precision rounding, q8_0 decoded here
//     from GGUF's block layout within half a quantisation step;
//   - the chat template rendered by @huggingface/jinja equal to chirp's
//     own rendering (EXPECT_CHAT: a JSON file {messages, text}).
// env: GGUF, MODEL_DIR, TYPE (f32|f16|bf16|q8_0), EXPECT_CHAT (optional)
import fs from 'node:fs';
import path from 'node:path';
import { assert, check, finish, requirePackage } from '../npm/harness.mjs';

const { gguf } = requirePackage('@huggingface/gguf');
const { Template } = requirePackage('@huggingface/jinja');

const file = process.env.GGUF, dir = process.env.MODEL_DIR, type = process.env.TYPE ?? 'f32';
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const tokjson = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
const parsed = await gguf(file, { allowLocalFile: true, typedMetadata: true });
const meta = parsed.typedMetadata;
const bytes = fs.readFileSync(file);
const C = cfg.n_embd, V = cfg.vocab_size, L = cfg.n_layer, T = cfg.n_positions;

// GGUF value types: UINT32 4, FLOAT32 6, BOOL 7, STRING 8, ARRAY 9; INT32 5.
function key(name, vtype, value) {
  const m = meta[name];
  assert(m, `missing key ${name}`);
  assert(m.type === vtype, `${name}: type ${m.type}, expected ${vtype}`);
  if (value !== undefined) assert(m.value === value, `${name}: ${m.value}, expected ${value}`);
  return m;
}

await check('header and hyperparameters', () => {
  assert(bytes.toString('latin1', 0, 4) === 'GGUF', 'magic');
  assert(bytes.readUInt32LE(4) === 3, 'version 3');
  key('general.architecture', 8, 'gpt2');
  key('general.alignment', 4, 32);
  key('general.file_type', 4, { f32: 0, f16: 1, q8_0: 7, bf16: 32 }[type]);
  key('gpt2.context_length', 4, T);
  key('gpt2.embedding_length', 4, C);
  key('gpt2.feed_forward_length', 4, 4 * C);
  key('gpt2.block_count', 4, L);
  key('gpt2.attention.head_count', 4, cfg.n_head);
  const eps = key('gpt2.attention.layer_norm_epsilon', 6).value;
  assert(Math.abs(eps - cfg.layer_norm_epsilon) < 1e-12, `eps ${eps}`);
});

await check('tokenizer against tokenizer.json', () => {
  key('tokenizer.ggml.model', 8, 'gpt2');
  key('tokenizer.ggml.pre', 8, 'gpt-2');
  const tokens = key('tokenizer.ggml.tokens', 9).value, types = key('tokenizer.ggml.token_type', 9).value;
  assert(meta['tokenizer.ggml.tokens'].subType === 8, 'tokens are strings');
  assert(meta['tokenizer.ggml.token_type'].subType === 5, 'token types are INT32');
  assert(tokens.length === V && types.length === V, `${tokens.length} tokens for a vocabulary of ${V}`);
  const want = new Array(V).fill(null), wantType = new Array(V).fill(5);
  for (const [s, id] of Object.entries(tokjson.model.vocab)) (want[id] = s), (wantType[id] = 1);
  for (const a of tokjson.added_tokens ?? []) (want[a.id] = a.content), (wantType[a.id] = a.special ? 3 : 4);
  for (let i = 0; i < V; i++) {
    assert(tokens[i] === (want[i] ?? `[PAD${i}]`), `token ${i}: ${JSON.stringify(tokens[i])} vs ${JSON.stringify(want[i])}`);
    assert(types[i] === wantType[i], `token ${i}: type ${types[i]} vs ${wantType[i]}`);
  }
  const merges = key('tokenizer.ggml.merges', 9).value;
  const wantMerges = tokjson.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  assert(merges.length === wantMerges.length, `${merges.length} merges, expected ${wantMerges.length}`);
  for (let i = 0; i < merges.length; i++) assert(merges[i] === wantMerges[i], `merge ${i}: ${merges[i]}`);
  const eot = (tokjson.added_tokens ?? []).find((a) => a.content === '<|endoftext|>')?.id ?? tokjson.model.vocab['<|endoftext|>'];
  key('tokenizer.ggml.bos_token_id', 4, eot);
  key('tokenizer.ggml.eos_token_id', 4, eot);
  key('tokenizer.ggml.padding_token_id', 4, eot);
  key('tokenizer.ggml.add_bos_token', 7, false);
});

await check('provenance', () => {
  const man = path.join(dir, 'chirp.json');
  if (fs.existsSync(man)) {
    const j = JSON.parse(fs.readFileSync(man, 'utf8'));
    key('chirp.manifest_sha256', 8);
    if (j.commitment) key('chirp.merkle_root', 8, j.commitment.merkle_root);
    if (process.env.LICENSE) key('general.license', 8, process.env.LICENSE);
  }
});

// The safetensors file, read by hand: u64 header length, JSON, data.
const st = fs.readFileSync(path.join(dir, 'model.safetensors'));
const hlen = Number(st.readBigUInt64LE(0));
const header = JSON.parse(st.toString('utf8', 8, 8 + hlen));
function stTensor(name) {
  const e = header[name] ?? header[`transformer.${name}`];
  assert(e && e.dtype === 'F32', `safetensors lacks ${name}`);
  const [a, b] = e.data_offsets;
  const base = 8 + hlen + a;
  return new Float32Array(st.buffer.slice(st.byteOffset + base, st.byteOffset + 8 + hlen + b));
}
function transpose(a, rows, cols) {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

// [gguf name, shape (ne0 first), the values in GGUF order, 2-D weight?]
const expected = [
  ['token_embd.weight', [C, V], stTensor('wte.weight'), true],
  ['position_embd.weight', [C, T], stTensor('wpe.weight'), true],
];
for (let l = 0; l < L; l++) {
  const h = (n) => stTensor(`h.${l}.${n}`);
  expected.push(
    [`blk.${l}.attn_norm.weight`, [C], h('ln_1.weight'), false],
    [`blk.${l}.attn_norm.bias`, [C], h('ln_1.bias'), false],
    [`blk.${l}.attn_qkv.weight`, [C, 3 * C], transpose(h('attn.c_attn.weight'), C, 3 * C), true],
    [`blk.${l}.attn_qkv.bias`, [3 * C], h('attn.c_attn.bias'), false],
    [`blk.${l}.attn_output.weight`, [C, C], transpose(h('attn.c_proj.weight'), C, C), true],
    [`blk.${l}.attn_output.bias`, [C], h('attn.c_proj.bias'), false],
    [`blk.${l}.ffn_norm.weight`, [C], h('ln_2.weight'), false],
    [`blk.${l}.ffn_norm.bias`, [C], h('ln_2.bias'), false],
    [`blk.${l}.ffn_up.weight`, [C, 4 * C], transpose(h('mlp.c_fc.weight'), C, 4 * C), true],
    [`blk.${l}.ffn_up.bias`, [4 * C], h('mlp.c_fc.bias'), false],
    [`blk.${l}.ffn_down.weight`, [4 * C, C], transpose(h('mlp.c_proj.weight'), 4 * C, C), true],
    [`blk.${l}.ffn_down.bias`, [C], h('mlp.c_proj.bias'), false],
  );
}
expected.push(
  ['output_norm.weight', [C], stTensor('ln_f.weight'), false],
  ['output_norm.bias', [C], stTensor('ln_f.bias'), false],
  ['output.weight', [C, V], stTensor('wte.weight'), true],
);

function f16(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// bf16 is a float's top 16 bits, rounded to nearest, ties to even (computed here from the float's bits).
function bf16Round(x) {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  let u = b.readUInt32LE(0);
  u = (u + 0x7fff + ((u >>> 16) & 1)) >>> 0;
  b.writeUInt32LE((u & 0xffff0000) >>> 0);
  return b.readFloatLE(0);
}
function bf16(h) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE((h << 16) >>> 0);
  return b.readFloatLE(0);
}

const matrixType = { f32: 0, f16: 1, bf16: 30, q8_0: 8 };
const dtypeOf = (w, ne0) => (!w ? 0 : type === 'q8_0' && ne0 % 32 ? 1 : matrixType[type]);
const sizeOf = (dt, n) => (dt === 0 ? 4 * n : dt === 1 || dt === 30 ? 2 * n : (n / 32) * 34);

await check('tensor names, shapes, dtypes and offsets', () => {
  const infos = parsed.tensorInfos;
  assert(infos.length === expected.length, `${infos.length} tensors, expected ${expected.length}`);
  const dataStart = Number(parsed.tensorDataOffset);
  assert(dataStart % 32 === 0, `tensor data starts at ${dataStart}`);
  let next = 0;
  for (let i = 0; i < infos.length; i++) {
    const [name, shape, , w] = expected[i], t = infos[i];
    assert(t.name === name, `tensor ${i}: ${t.name}, expected ${name}`);
    assert(JSON.stringify(t.shape.map(Number)) === JSON.stringify(shape), `${name}: shape ${t.shape}`);
    const dt = dtypeOf(w, shape[0]);
    assert(t.dtype === dt, `${name}: dtype ${t.dtype}, expected ${dt}`);
    const off = Number(t.offset);
    assert(off === next, `${name}: offset ${off}, expected ${next}`);
    next = Math.ceil((off + sizeOf(dt, shape.reduce((a, b) => a * b, 1))) / 32) * 32;
  }
  assert(dataStart + next - 32 < bytes.length && bytes.length <= dataStart + next, 'file ends after the last tensor');
});

await check('tensor data against model.safetensors', () => {
  const dataStart = Number(parsed.tensorDataOffset);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const [name, shape, want, w] = expected[i];
    const n = want.length, dt = dtypeOf(w, shape[0]), at = dataStart + Number(parsed.tensorInfos[i].offset);
    if (dt === 0) {
      for (let k = 0; k < n; k++)
        assert(bytes.readFloatLE(at + 4 * k) === want[k], `${name}[${k}]: ${bytes.readFloatLE(at + 4 * k)} vs ${want[k]}`);
    } else if (dt === 30) {
      for (let k = 0; k < n; k++) {
        const got = bf16(bytes.readUInt16LE(at + 2 * k));
        assert(got === bf16Round(want[k]), `${name}[${k}]: ${got}, expected ${want[k]} rounded to bf16`);
      }
    } else if (dt === 1) {
      for (let k = 0; k < n; k++) {
        const got = f16(bytes.readUInt16LE(at + 2 * k)), err = Math.abs(got - want[k]);
        assert(err <= Math.abs(want[k]) * 2 ** -11 + 2 ** -25, `${name}[${k}]: ${got} vs ${want[k]}`);
      }
    } else {
      for (let b = 0; b < n / 32; b++) {
        const d = f16(bytes.readUInt16LE(at + 34 * b));
        let amax = 0;
        for (let k = 0; k < 32; k++) amax = Math.max(amax, Math.abs(want[32 * b + k]));
        assert(Math.abs(d - amax / 127) <= (amax / 127) * 2 ** -10 + 1e-30, `${name} block ${b}: scale ${d}`);
        for (let k = 0; k < 32; k++) {
          const q = bytes.readInt8(at + 34 * b + 2 + k), err = Math.abs(q * d - want[32 * b + k]);
          worst = Math.max(worst, err / (d || 1));
          assert(err <= 0.5 * d + amax * 2 ** -9, `${name}[${32 * b + k}]: ${q} x ${d} vs ${want[32 * b + k]}`);
        }
      }
    }
  }
  if (type === 'q8_0') console.log(`     q8_0: worst error ${worst.toFixed(3)} of a step`);
});

await check('chat template rendered by @huggingface/jinja', () => {
  const exp = process.env.EXPECT_CHAT;
  if (!exp) {
    assert(!meta['tokenizer.chat_template'], 'a chat template where the model has none');
    return;
  }
  const { messages, text } = JSON.parse(fs.readFileSync(exp, 'utf8'));
  const tmpl = key('tokenizer.chat_template', 8).value;
  const got = new Template(tmpl).render({ messages, add_generation_prompt: true });
  assert(got === text, `jinja rendered ${JSON.stringify(got)}, chirp ${JSON.stringify(text)}`);
});

finish();
