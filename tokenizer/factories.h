// The constructors behind Tokenizer::from_file / for_model / load_tokenizer (tokenizer.cpp), one per
// format. explicit_add_bos: -1 when no config file says, else 0/1; policy_source names that file.
#pragma once
#include <memory>
#include <string>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace eeb {

std::unique_ptr<Tokenizer> sentencepiece_from_file(const std::string& path, int explicit_add_bos,
                                                   const std::string& policy_source);
std::unique_ptr<Tokenizer> sentencepiece_from_proto(const std::string& serialized, const std::string& origin,
                                                    int explicit_add_bos, const std::string& policy_source);

// A Hugging Face tokenizer.json (byte-level BPE) and, when config_path is not empty, the
// tokenizer_config.json next to it (bos_token, eos_token, add_bos_token).
std::unique_ptr<Tokenizer> bpe_from_tokenizer_json(const std::string& path, const std::string& config_path);
// The same from the text of the files (the fuzz target and tests feed bytes directly).
std::unique_ptr<Tokenizer> bpe_from_tokenizer_json_text(const std::string& json_text, const std::string& origin,
                                                        const std::string& config_text,
                                                        const std::string& config_origin);

// add_bos_token of a tokenizer_config.json: -1 absent or null, else 0/1.
int read_add_bos_token(const std::string& config_path);

// A GGUF vocabulary with tokenizer.ggml.model = gpt2 (tokens, merges, token types, pre).
std::unique_ptr<Tokenizer> bpe_from_gguf_vocab(const EmbeddedVocab& v, const std::string& origin);

}  // namespace eeb
