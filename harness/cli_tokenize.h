// eebench tokenize: the ids (and pieces) eebench would score for a text, with the tokenizer's BOS
// policy unless --no-bos. Registered by main.cpp through add_tokenize_command.
#pragma once
#include <string>

namespace CLI { class App; }

namespace eeb {

struct TokenizeArgs {
  std::string model, tokenizer, text, file, jsonl;
  bool text_given = false, no_bos = false, json = false;
};

CLI::App* add_tokenize_command(CLI::App& app, TokenizeArgs& a);
int cmd_tokenize(const TokenizeArgs& a);

}  // namespace eeb
