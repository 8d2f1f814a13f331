#!/usr/bin/env node
// The reference side of docs/PERF.md "Tokenizer": Hugging Face `tokenizers` (Rust core, npm Node
// binding) on the texts bench_tokenizer.cpp encodes (SST-2 train sentences, MMLU test lines), one
// thread (TOKENIZERS_PARALLELISM=false, RAYON_NUM_THREADS=1), encodeBatch (one call per corpus, so
// the per-call cost of the binding is not counted against it). Prints MB/s of wall and CPU time and
// the token count (equal to bench_tokenizer's "tokens" counter when both tokenize alike).
//   mkdir /tmp/tok && cd /tmp/tok && npm install tokenizers@0.23.2     (never inside the repo)
//   TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 NODE_PATH=/tmp/tok/node_modules \
//     node bench/hf_tokenizers_bench.js [DATA]    (DATA default ../shared/data)
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const DATA = process.argv[2] || path.resolve(__dirname, '..', '..', 'shared', 'data');

function sst2() {
  const lines = fs.readFileSync(path.join(DATA, 'datasets/sst2/train.tsv'), 'utf8').split('\n').slice(1);
  return lines.filter((l) => l.includes('\t')).map((l) => l.slice(0, l.lastIndexOf('\t')));
}
function mmlu() {
  const dir = path.join(DATA, 'datasets/mmlu/test');
  const out = [];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.csv')).sort()) {
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();  // getline() yields no empty last line
    out.push(...lines);
  }
  return out;
}

async function main() {
  const corpora = { sst2_train: sst2(), mmlu_test: mmlu() };
  for (const name of ['llama3', 'qwen3', 'gpt2']) {
    const tok = Tokenizer.fromFile(path.join(DATA, 'tokenizers', name, 'tokenizer.json'));
    for (const [cname, texts] of Object.entries(corpora)) {
      const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t, 'utf8'), 0);
      let best = Infinity, bestCpu = Infinity, tokens = 0;
      for (let rep = 0; rep < 3; rep++) {
        const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
        const encs = await tok.encodeBatch(texts, { addSpecialTokens: false });
        const wall = Number(process.hrtime.bigint() - t0) / 1e9, c = process.cpuUsage(c0);
        tokens = encs.reduce((s, e) => s + e.getIds().length, 0);
        best = Math.min(best, wall);
        bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
      }
      console.log(`${name}/${cname}: ${(bytes / 1e6).toFixed(2)} MB, ${texts.length} texts, ${tokens} tokens; ` +
                  `${(bytes / 1e6 / best).toFixed(2)} MB/s wall, ${(bytes / 1e6 / bestCpu).toFixed(2)} MB/s CPU`);
    }
  }
}
main().catch((e) => { console.error(e); process.exit(2); });
