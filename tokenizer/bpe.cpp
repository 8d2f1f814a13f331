// Byte-level BPE (see bpe.h for the order of the steps and where HF does the same).
#include "tokenizer/bpe.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/text_util.h"

namespace eeb {

const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

struct ByteLevelTables {
  std::string chars[256];
  std::unordered_map<uint32_t, unsigned char> byte_of;  // code point -> byte
  ByteLevelTables() {
    // bytes_to_unicode() of GPT-2's encoder.py: printable bytes stand for themselves, the others
    // take code points 256, 257, ... in byte order.
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      append_utf8(chars[b], cp);
      byte_of[cp] = static_cast<unsigned char>(b);
    }
  }
};
const ByteLevelTables& tables() {
  static const ByteLevelTables t;
  return t;
}

// HF's ByteLevel decoder (decoders/byte_level.rs): a token whose characters are all in the byte-level
// alphabet becomes those bytes; any other token keeps its own UTF-8 bytes. *all_mapped tells which.
std::string byte_level_decode(const std::string& tok, bool* all_mapped) {
  const auto& t = tables();
  std::string out;
  size_t i = 0;
  while (i < tok.size()) {
    const unsigned char c = static_cast<unsigned char>(tok[i]);
    const size_t n = text::utf8_len(c);
    uint32_t cp = c;
    if (n > 1 && i + n <= tok.size()) {
      cp = c & (0xff >> (n + 1));
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(tok[i + k]) & 0x3f);
    }
    auto it = t.byte_of.find(cp);
    if (it == t.byte_of.end()) {
      *all_mapped = false;
      return tok;
    }
    out += static_cast<char>(it->second);
    i += n;
  }
  *all_mapped = true;
  return out;
}

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StrMap = std::unordered_map<std::string, int, StrHash, std::equal_to<>>;

// Open addressing from a pair of ids to (rank, merged id): the innermost lookup of encode().
class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;
    int rank = 0, id = 0;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Entry{});
    mask_ = cap - 1;
  }
  void put(int a, int b, int rank, int id) {  // a later duplicate replaces the earlier (HashMap::collect)
    const uint64_t k = key(a, b);
    size_t i = hash(k) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
    slots_[i] = {k, rank, id};
  }
  const Entry* get(int a, int b) const {
    const uint64_t k = key(a, b);
    size_t i = hash(k) & mask_;
    while (true) {
      const Entry& e = slots_[i];
      if (e.key == k) return &e;
      if (e.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t key(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
};

// Added tokens matched in text: a byte trie, leftmost-longest like HF's aho-corasick matcher.
class AddedMatcher {
 public:
  void add(const std::string& s, int index) {
    if (s.empty()) return;
    int node = 0;
    for (unsigned char c : s) {
      const uint64_t k = (uint64_t(node) << 8) | c;
      auto it = next_.find(k);
      if (it == next_.end()) {
        it = next_.emplace(k, static_cast<int>(token_.size())).first;
        token_.push_back(-1);
      }
      node = it->second;
    }
    token_[node] = index;
    first_[static_cast<unsigned char>(s[0])] = true;
    any_ = true;
  }
  bool empty() const { return !any_; }
  // Longest token starting at s[i]: its index and end, or -1.
  int longest_at(std::string_view s, size_t i, size_t* end) const {
    if (!first_[static_cast<unsigned char>(s[i])]) return -1;
    int node = 0, best = -1;
    for (size_t j = i; j < s.size(); ++j) {
      auto it = next_.find((uint64_t(node) << 8) | static_cast<unsigned char>(s[j]));
      if (it == next_.end()) break;
      node = it->second;
      if (token_[node] >= 0) best = token_[node], *end = j + 1;
    }
    return best;
  }

 private:
  std::unordered_map<uint64_t, int> next_;
  std::vector<int> token_ = {-1};  // per node: the added token ending there
  bool first_[256] = {};
  bool any_ = false;
};

bool is_word_byte(unsigned char c) { return c >= 0x80 || c == '_' || std::isalnum(c); }
bool is_space_byte(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeSpec spec) : Tokenizer(spec.origin), spec_(std::move(spec)) { build(); }

  std::vector<int> encode(const std::string& text) const override {
    const size_t bad = text::invalid_utf8_at(text);
    if (bad != std::string_view::npos)
      throw Error(origin_, "text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
    std::vector<int> ids;
    split_added(text, raw_matcher_, ids, [&](std::string_view seg) {
      if (spec_.normalizers.empty()) return split_added(seg, norm_matcher_, ids, [&](std::string_view s) { pre(0, s, ids); });
      std::string n(seg);
      for (const auto& form : spec_.normalizers) n = text::normalize(n, form);
      split_added(n, norm_matcher_, ids, [&](std::string_view s) { pre(0, s, ids); });
    });
    return ids;
  }

  std::string decode(const std::vector<int>& ids) const override {
    std::string bytes;
    for (int id : ids) {
      check(id >= 0 && id < vocab_size(), origin_,
            "token id " + std::to_string(id) + " out of range (vocabulary of " + std::to_string(vocab_size()) + ")");
      bytes += decoded_[id];
    }
    return text::utf8_lossy(bytes);
  }

  std::string piece(int id) const override {
    check(id >= 0 && id < vocab_size(), origin_,
          "token id " + std::to_string(id) + " out of range (vocabulary of " + std::to_string(vocab_size()) + ")");
    return pieces_[id];
  }
  int bos() const override { return bos_; }
  int eos() const override { return eos_; }
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  std::string kind() const override { return "bpe"; }

 private:
  template <class F>
  void split_added(std::string_view s, const AddedMatcher& m, std::vector<int>& ids, F&& text_part) const {
    if (m.empty()) {
      if (!s.empty()) text_part(s);
      return;
    }
    size_t seg = 0, i = 0;
    while (i < s.size()) {
      size_t end = 0;
      const int k = m.longest_at(s, i, &end);
      if (k < 0) {
        ++i;
        continue;
      }
      const BpeAddedToken& t = spec_.added[k];
      if (t.single_word && ((i > 0 && is_word_byte(s[i - 1])) || (end < s.size() && is_word_byte(s[end])))) {
        i = end;  // the matcher resumes after a rejected match, as HF's find_iter does
        continue;
      }
      size_t start = i;
      if (t.lstrip)
        while (start > seg && is_space_byte(s[start - 1])) --start;
      if (t.rstrip)
        while (end < s.size() && is_space_byte(s[end])) ++end;
      if (start > seg) text_part(s.substr(seg, start - seg));
      ids.push_back(t.id);
      seg = i = end;
    }
    if (seg < s.size()) text_part(s.substr(seg));
  }

  // Pre-tokenizer step k on piece s; past the last step, BPE.
  void pre(size_t k, std::string_view s, std::vector<int>& ids) const {
    if (s.empty()) return;
    if (k == spec_.pre.size()) return bpe(s, ids);
    const BpePreStep& st = spec_.pre[k];
    const text::Regex* re = regexes_[k].get();
    if (st.kind == BpePreStep::kByteLevel && st.add_prefix_space && s[0] != ' ') {
      const std::string p = " " + std::string(s);
      return split_regex(k, re, st.remove, p, ids);
    }
    split_regex(k, re, st.remove, s, ids);
  }
  void split_regex(size_t k, const text::Regex* re, bool remove, std::string_view s, std::vector<int>& ids) const {
    if (!re) return pre(k + 1, s, ids);
    size_t prev = 0;
    re->for_each_match(s, [&](size_t a, size_t b) {
      if (a > prev) pre(k + 1, s.substr(prev, a - prev), ids);  // the text between matches
      if (!remove) pre(k + 1, s.substr(a, b - a), ids);
      prev = b;
    });
    if (prev < s.size()) pre(k + 1, s.substr(prev), ids);
  }

  void bpe(std::string_view w, std::vector<int>& ids) const {
    if (spec_.ignore_merges) {
      auto it = raw_vocab_.find(w);
      if (it != raw_vocab_.end()) return ids.push_back(it->second);
    }
    // HF's Word::merge_all (models/bpe/word.rs): a heap of candidate merges ordered by rank, then
    // position; stale entries are skipped when popped.
    struct Sym { int id, prev, next, len; };
    struct Cand { int rank, pos, id; };
    std::vector<Sym> syms;
    syms.reserve(w.size());
    for (unsigned char c : w) {
      int id = byte_id_[c];
      if (id < 0) {
        if (unk_ < 0) continue;  // no unk token: the byte is dropped, as HF does
        id = unk_;
      }
      const int n = static_cast<int>(syms.size());
      syms.push_back({id, n - 1, n + 1, 1});
    }
    if (syms.empty()) return;
    syms.back().next = -1;
    const auto worse = [](const Cand& x, const Cand& y) { return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos; };
    std::vector<Cand> heap;
    for (size_t i = 0; i + 1 < syms.size(); ++i)
      if (const auto* m = merges_.get(syms[i].id, syms[i + 1].id)) heap.push_back({m->rank, int(i), m->id});
    std::make_heap(heap.begin(), heap.end(), worse);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      const Cand top = heap.back();
      heap.pop_back();
      Sym& cur = syms[top.pos];
      if (cur.len == 0 || cur.next < 0) continue;
      const int nx = cur.next;
      const Sym right = syms[nx];
      const auto* m = merges_.get(cur.id, right.id);
      if (!m || m->id != top.id) continue;  // stale
      cur.id = top.id;
      cur.len += right.len;
      cur.next = right.next;
      syms[nx].len = 0;
      if (right.next >= 0) syms[right.next].prev = top.pos;
      if (cur.prev >= 0)
        if (const auto* p = merges_.get(syms[cur.prev].id, cur.id)) {
          heap.push_back({p->rank, cur.prev, p->id});
          std::push_heap(heap.begin(), heap.end(), worse);
        }
      if (cur.next >= 0)
        if (const auto* q = merges_.get(cur.id, syms[cur.next].id)) {
          heap.push_back({q->rank, top.pos, q->id});
          std::push_heap(heap.begin(), heap.end(), worse);
        }
    }
    for (const Sym& s : syms)
      if (s.len) ids.push_back(s.id);
  }

  void build();

  BpeSpec spec_;
  std::vector<std::string> pieces_, decoded_;
  StrMap raw_vocab_;  // the vocabulary by raw bytes (byte-level alphabet undone)
  int byte_id_[256];
  MergeTable merges_;
  AddedMatcher raw_matcher_, norm_matcher_;
  std::vector<std::unique_ptr<text::Regex>> regexes_;  // per pre-tokenizer step (null: no split)
  int unk_ = -1, bos_ = -1, eos_ = -1;
};

void BpeTokenizer::build() {
  const std::string& o = origin_;
  check(!spec_.vocab.empty(), o, "the BPE vocabulary is empty");
  int max_id = -1;
  for (const auto& [tok, id] : spec_.vocab) {
    check(id >= 0 && id < (1 << 30), o, "vocabulary id " + std::to_string(id) + " of \"" + tok + "\" is out of range");
    max_id = std::max(max_id, id);
  }
  for (const auto& a : spec_.added) {
    check(a.id >= 0 && a.id < (1 << 30), o, "added token id " + std::to_string(a.id) + " is out of range");
    check(!a.content.empty(), o, "added token " + std::to_string(a.id) + " is empty");
    max_id = std::max(max_id, a.id);
  }
  pieces_.assign(max_id + 1, std::string());
  decoded_.assign(max_id + 1, std::string());
  std::vector<char> used(max_id + 1, 0);
  StrMap vocab;
  vocab.reserve(spec_.vocab.size());
  raw_vocab_.reserve(spec_.vocab.size());
  for (const auto& [tok, id] : spec_.vocab) {
    check(!used[id], o, "vocabulary id " + std::to_string(id) + " is given to both \"" + pieces_[id] + "\" and \"" + tok + "\"");
    check(vocab.emplace(tok, id).second, o, "vocabulary token \"" + tok + "\" appears twice");
    used[id] = 1;
    pieces_[id] = tok;
    bool mapped = false;
    decoded_[id] = byte_level_decode(tok, &mapped);
    if (mapped) raw_vocab_.emplace(decoded_[id], id);
  }
  for (size_t k = 0; k < spec_.added.size(); ++k) {
    const auto& a = spec_.added[k];
    // An added token may repeat a vocabulary entry (same id); a different id for a used one is an error.
    if (used[a.id] && pieces_[a.id] != a.content)
      throw Error(o, "added token \"" + a.content + "\" has id " + std::to_string(a.id) + ", already \"" +
                         pieces_[a.id] + "\"");
    if (!used[a.id]) {
      used[a.id] = 1;
      pieces_[a.id] = a.content;
      bool mapped = false;
      decoded_[a.id] = byte_level_decode(a.content, &mapped);
    }
    (a.normalized && !spec_.normalizers.empty() ? norm_matcher_ : raw_matcher_).add(a.content, static_cast<int>(k));
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(byte_level_char(static_cast<unsigned char>(b)));
    byte_id_[b] = it == vocab.end() ? -1 : it->second;
  }
  if (!spec_.unk_token.empty()) {
    auto it = vocab.find(spec_.unk_token);
    check(it != vocab.end(), o, "unk_token \"" + spec_.unk_token + "\" is not in the vocabulary");
    unk_ = it->second;
  }
  merges_.reserve(spec_.merges.size());
  for (size_t r = 0; r < spec_.merges.size(); ++r) {
    const auto& [a, b] = spec_.merges[r];
    const std::string what = "merge " + std::to_string(r) + " (\"" + a + " " + b + "\")";
    auto ia = vocab.find(a), ib = vocab.find(b), iab = vocab.find(a + b);
    check(ia != vocab.end(), o, what + " refers to \"" + a + "\", which is not in the vocabulary");
    check(ib != vocab.end(), o, what + " refers to \"" + b + "\", which is not in the vocabulary");
    check(iab != vocab.end(), o, what + " makes \"" + a + b + "\", which is not in the vocabulary");
    merges_.put(ia->second, ib->second, static_cast<int>(r), iab->second);
  }
  for (const auto& st : spec_.pre) {
    if (st.kind == BpePreStep::kSplit)
      regexes_.push_back(std::make_unique<text::Regex>(st.regex, st.literal, o));
    else if (st.use_regex)
      regexes_.push_back(std::make_unique<text::Regex>(kGpt2Regex, false, o));
    else
      regexes_.push_back(nullptr);
  }
  const auto in_range = [&](int id) { return id >= -1 && id <= max_id; };
  check(in_range(spec_.bos_id), o, "BOS id " + std::to_string(spec_.bos_id) + " is out of range");
  check(in_range(spec_.eos_id), o, "EOS id " + std::to_string(spec_.eos_id) + " is out of range");
  bos_ = spec_.bos_id, eos_ = spec_.eos_id;
  for (const auto& f : spec_.normalizers)
    check(f == "NFC" || f == "NFD" || f == "NFKC" || f == "NFKD", o, "unknown normalization form " + f);
}

}  // namespace

const std::string& byte_level_char(unsigned char b) { return tables().chars[b]; }

std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec) { return std::make_unique<BpeTokenizer>(std::move(spec)); }

}  // namespace eeb
