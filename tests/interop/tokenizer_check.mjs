// tokenizer_check.mjs: loads a tokenizer.json written by chirp with Hugging
// Face's own JavaScript implementation (npm @huggingface/tokenizers) and
// checks that its ids equal chirp's on every case, and that its decode of
// those ids gives the text back.
//
//   TOKENIZER=dir/tokenizer.json CASES=cases.jsonl node tokenizer_check.mjs
//
// CASES holds one {"text": ..., "ids": [...]} per line, the ids being what
// chirp's encoder gave with special-token strings matched (Hugging Face
// always matches added tokens). The label in LABEL names the run.
import fs from 'node:fs';
import { requirePackage, check, assert, finish } from '../npm/harness.mjs';

const { Tokenizer } = requirePackage('@huggingface/tokenizers');
const label = process.env.LABEL ?? 'tokenizer';
const json = JSON.parse(fs.readFileSync(process.env.TOKENIZER, 'utf8'));
const cases = fs.readFileSync(process.env.CASES, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
const tok = new Tokenizer(json, {});

function show(ids, at) {
  return JSON.stringify(ids.slice(Math.max(0, at - 3), at + 4));
}

// A whole case is one mismatch; the first few are printed in full.
await check(`${label}: ids equal chirp's on ${cases.length} texts`, () => {
  let bad = 0;
  for (const c of cases) {
    const got = tok.encode(c.text, { add_special_tokens: false }).ids.map(Number);
    if (got.length === c.ids.length && got.every((v, i) => v === c.ids[i])) continue;
    if (++bad <= 5) {
      let at = 0;
      while (at < got.length && got[at] === c.ids[at]) at++;
      console.log(`  mismatch at id ${at} of ${JSON.stringify(c.text.slice(0, 120))}:` +
                  ` hf ${show(got, at)} chirp ${show(c.ids, at)}`);
    }
  }
  assert(bad === 0, `${bad} of ${cases.length} texts tokenize differently`);
});

await check(`${label}: decode gives the text back`, () => {
  let bad = 0;
  for (const c of cases) {
    if (c.ids.length === 0) continue; // tokenizers.js refuses to decode an empty list
    const back = tok.decode(c.ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    if (back !== c.text && ++bad <= 5)
      console.log(`  decode of ${JSON.stringify(c.text.slice(0, 80))} gave ${JSON.stringify(back.slice(0, 80))}`);
  }
  assert(bad === 0, `${bad} texts decode differently`);
});

await check(`${label}: special tokens are single ids`, () => {
  for (const name of ['<|endoftext|>', '<|im_start|>', '<|im_end|>']) {
    const id = tok.token_to_id(name);
    if (id === undefined) continue; // GPT-2 has only <|endoftext|>
    const ids = tok.encode(`a${name}b`, { add_special_tokens: false }).ids.map(Number);
    assert(ids.length === 3 && ids[1] === id, `${name} gave ${JSON.stringify(ids)}`);
  }
});

finish();
