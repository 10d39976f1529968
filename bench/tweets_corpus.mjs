// tweets_corpus.mjs: writes the tweet texts of ../shared/data (tweets-musk
// Tweet.csv and tweets-trump condensed_*.json), one document per line
// group, repeated up to TARGET_MB. usage: node tweets_corpus.mjs DATA OUT [TARGET_MB]
import { readFileSync, readdirSync, writeFileSync, existsSync } from "fs";
import { join } from "path";

const [data, out, targetArg] = process.argv.slice(2);
const target = Math.round(parseFloat(targetArg || "10") * 1e6);
const texts = [];

// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines.
function parseCsv(s) {
  const rows = [];
  let row = [], field = "", i = 0, quoted = false;
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"') { quoted = true; i++; continue; }
    if (c === ",") { row.push(field); field = ""; i++; continue; }
    if (c === "\r" && s[i + 1] === "\n") { i++; continue; }
    if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; i++; continue; }
    field += c; i++;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const csv = join(data, "tweets-musk", "Tweet.csv");
if (existsSync(csv)) {
  const rows = parseCsv(readFileSync(csv, "utf8"));
  const col = rows[0].indexOf("text");
  for (const r of rows.slice(1)) if (r[col]) texts.push(r[col]);
}
const trump = join(data, "tweets-trump");
if (existsSync(trump)) {
  for (const f of readdirSync(trump).filter((f) => f.endsWith(".json")).sort())
    for (const t of JSON.parse(readFileSync(join(trump, f), "utf8"))) if (t.text) texts.push(t.text);
}
if (!texts.length) { console.error(`no tweets found under ${data}`); process.exit(1); }
const one = Buffer.from(texts.join("\n") + "\n", "utf8");
const parts = [];
for (let n = 0; n < target; n += one.length) parts.push(one);
writeFileSync(out, Buffer.concat(parts).subarray(0, Math.max(target, one.length)));
// Cut at a line end so the last document is whole.
const buf = readFileSync(out);
const end = buf.lastIndexOf(10) + 1;
writeFileSync(out, buf.subarray(0, end));
console.log(`corpus: ${texts.length} tweets (${(one.length / 1e6).toFixed(2)} MB), repeated to ${(end / 1e6).toFixed(2)} MB -> ${out}`);
