// Partial scoring (lm-eval's multiple-input multiple_choice, WSC273): choice c is the request
// (context + choice_contexts[c], choices[c]) tokenized as lm-eval's _encode_pair does; the token
// prefix all choices share becomes Request::context (one pass through the model), and each
// continuation starts with the rest of its own context, marked in Request::unscored.
#include <algorithm>

#include "core/error.h"
#include "tasks/builtin.h"
#include "tasks/text.h"
#include "tokenizer/tokenizer.h"

namespace eeb {

Request make_partial_request(const Doc& doc, int index, const Tokenizer& tok, bool add_bos) {
  const std::string where = "document " + doc.id;
  if (doc.choices.empty() || doc.choices.size() != doc.choice_contexts.size())
    throw Error(where + ": partial scoring needs one context per choice");
  std::vector<std::vector<int32_t>> ctx(doc.choices.size()), cont(doc.choices.size());
  for (size_t c = 0; c < doc.choices.size(); ++c) {
    std::string context = doc.context + doc.choice_contexts[c];
    std::string continuation = doc.choices[c];
    const size_t n_ws = py_rstrip_bytes(context);  // trailing spaces move onto the continuation
    continuation = context.substr(context.size() - n_ws) + continuation;
    context.resize(context.size() - n_ws);
    if (add_bos && tok.add_bos()) {  // the tokenizer's BOS policy, as make_request
      const int bos = tok.bos();
      if (bos < 0) throw Error(where + ": the tokenizer has no BOS token (run without BOS)");
      ctx[c].push_back(bos);
    }
    const std::vector<int> ce = tok.encode(context);
    const std::vector<int> whole = tok.encode(context + continuation);
    if (whole.size() <= ce.size())
      throw Error(where + ": choice " + std::to_string(c) + " has no continuation tokens after its context");
    ctx[c].insert(ctx[c].end(), ce.begin(), ce.end());
    cont[c].assign(whole.begin() + static_cast<std::ptrdiff_t>(ce.size()), whole.end());
  }
  size_t shared = ctx[0].size();
  for (size_t c = 1; c < ctx.size(); ++c) {
    size_t m = 0;
    while (m < shared && m < ctx[c].size() && ctx[c][m] == ctx[0][m]) ++m;
    shared = m;
  }
  if (shared == 0)
    throw Error(where + ": the choices' contexts share no first token; partial scoring needs BOS here");
  Request r;
  r.index = index;
  r.doc = &doc;
  r.context.assign(ctx[0].begin(), ctx[0].begin() + static_cast<std::ptrdiff_t>(shared));
  for (size_t c = 0; c < ctx.size(); ++c) {
    std::vector<int32_t> k(ctx[c].begin() + static_cast<std::ptrdiff_t>(shared), ctx[c].end());
    r.unscored.push_back(static_cast<int>(k.size()));
    k.insert(k.end(), cont[c].begin(), cont[c].end());
    r.continuations.push_back(std::move(k));
  }
  return r;
}

}  // namespace eeb
