// tiktoken_bench.mjs: tiktoken's WASM gpt2 encoder on the same file, for
// bench/tokenizer. usage: node tiktoken_bench.mjs NODE_MODULES_DIR FILE RUNS
// Prints the median MB/s of RUNS encode_ordinary calls after one warm-up.
import { createRequire } from "module";
import { readFileSync } from "fs";
import { join } from "path";

const [modules, file, runsArg] = process.argv.slice(2);
const require = createRequire(join(modules, "x.js"));
const { get_encoding } = require("tiktoken");
const enc = get_encoding("gpt2");
const bytes = readFileSync(file);
const text = bytes.toString("utf8");
const runs = Math.max(1, parseInt(runsArg || "5", 10));
let n = enc.encode_ordinary(text).length;
const secs = [];
for (let r = 0; r < runs; r++) {
  const t0 = process.hrtime.bigint();
  n = enc.encode_ordinary(text).length;
  secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
secs.sort((a, b) => a - b);
const med = secs[Math.floor(runs / 2)];
console.log(`tiktoken 1 thread: ${(bytes.length / 1e6 / med).toFixed(1)} MB/s, ${(n / med / 1e6).toFixed(2)} M tokens/s (median of ${runs} runs, ${n} tokens)`);
enc.free();
