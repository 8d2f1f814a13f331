// eebench tokenize (-m MODEL | --tokenizer FILE) (--text T | --file F | --jsonl F) [--no-bos] [--json]
#include "harness/cli_tokenize.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "harness/hf_hub.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace eeb {

namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json pieces_of(const Tokenizer& t, const std::vector<int>& ids) {
  json p = json::array();
  for (int id : ids) p.push_back(t.piece(id));
  return p;
}

// One input line of --jsonl: a JSON string or an object with a "text" string.
std::string jsonl_text(const std::string& line, const std::string& where) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception&) {
    throw Error(where, "not valid JSON (each line: a JSON string or {\"text\": ...})");
  }
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("text") && j["text"].is_string()) return j["text"].get<std::string>();
  throw Error(where, "expected a JSON string or {\"text\": ...}");
}

std::unique_ptr<Tokenizer> tokenizer_for(const TokenizeArgs& a) {
  if (!a.tokenizer.empty()) return load_tokenizer(a.tokenizer);
  if (a.model.empty()) throw Error("tokenize: give -m MODEL or --tokenizer FILE");
  return Tokenizer::for_model(load_model(resolve_model_path(a.model)));
}

}  // namespace

CLI::App* add_tokenize_command(CLI::App& app, TokenizeArgs& a) {
  auto* t = app.add_subcommand("tokenize", "the token ids (and pieces) eebench would score for a text");
  t->add_option("--model,-m", a.model, "model path or hub id (its own tokenizer)");
  t->add_option("--tokenizer", a.tokenizer, "tokenizer.json, tokenizer.model, a .gguf file or a directory");
  auto* text = t->add_option("--text", a.text, "the text");
  auto* file = t->add_option("--file", a.file, "a file whose whole content is the text")->check(CLI::ExistingFile);
  auto* jsonl = t->add_option("--jsonl", a.jsonl, "one JSON string or {\"text\": ...} per line")->check(CLI::ExistingFile);
  text->excludes(file)->excludes(jsonl);
  file->excludes(jsonl);
  t->add_flag("--no-bos", a.no_bos, "do not prepend BOS even where the tokenizer's policy does");
  t->add_flag("--json", a.json, "JSON output (with --jsonl: one {\"ids\", \"pieces\"} line per input line)");
  t->callback([text, &a] { a.text_given = text->count() > 0; });  // --text "" is a text too
  return t;
}

int cmd_tokenize(const TokenizeArgs& a) {
  if (!a.text_given && a.file.empty() && a.jsonl.empty()) throw Error("tokenize: give --text, --file or --jsonl");
  const auto tok = tokenizer_for(a);
  const Tokenizer& t = *tok;
  const bool bos = !a.no_bos;
  if (!a.jsonl.empty()) {
    std::ifstream in(a.jsonl, std::ios::binary);
    if (!in) throw Error(a.jsonl, "cannot read the file");
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      const std::vector<int> ids = t.encode_for_model(jsonl_text(line, a.jsonl + ":" + std::to_string(n)), bos);
      if (a.json) {
        std::printf("%s\n", dump(json{{"ids", ids}, {"pieces", pieces_of(t, ids)}}).c_str());
      } else {
        std::string s;
        for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
        std::printf("%s\n", s.c_str());
      }
    }
    return 0;
  }
  std::string text = a.text;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) throw Error(a.file, "cannot read the file");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::vector<int> ids = t.encode_for_model(text, bos);
  const std::string policy = a.no_bos ? "not applied (--no-bos); the tokenizer's: " + t.bos_policy_description()
                                      : t.bos_policy_description();
  if (a.json) {
    const json out = {{"tokenizer", t.origin()}, {"kind", t.kind()},        {"vocab_size", t.vocab_size()},
                      {"add_bos", bos && t.add_bos()}, {"bos_policy", policy}, {"ids", ids},
                      {"pieces", pieces_of(t, ids)}};
    std::printf("%s\n", dump(out).c_str());
    return 0;
  }
  std::printf("tokenizer: %s (%s, %d ids)\nBOS: %s\n%zu tokens\n", t.origin().c_str(), t.kind().c_str(),
              t.vocab_size(), policy.c_str(), ids.size());
  for (int id : ids) std::printf("%d\t%s\n", id, dump(json(t.piece(id))).c_str());
  return 0;
}

}  // namespace eeb
