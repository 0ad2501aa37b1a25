// Gemma 4 BPE tokenizer. See tokenizer.h for the algorithm.
#include "tokenizer.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include <fmt/format.h>

namespace vkg {

namespace {

constexpr std::string_view kSpaceEscape = "\xE2\x96\x81";  // U+2581
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Open-addressing hash map uint64 -> uint64 (keys != ~0). Built once, then read-only.
class FlatMap64 {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, 0);
    mask_ = cap - 1;
  }
  /// Inserts unless present; returns false if the key was already there.
  bool insert(uint64_t k, uint64_t v) {
    for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == k) return false;
      if (keys_[i] == kEmpty) {
        keys_[i] = k;
        vals_[i] = v;
        return true;
      }
    }
  }
  /// Inserts or overwrites.
  void set(uint64_t k, uint64_t v) {
    for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == k || keys_[i] == kEmpty) {
        keys_[i] = k;
        vals_[i] = v;
        return;
      }
    }
  }
  const uint64_t* find(uint64_t k) const {
    for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == k) return &vals_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
  std::vector<uint64_t> keys_, vals_;
  size_t mask_ = 0;
};

/// Length of the UTF-8 character that starts with byte c, by its high nibble (as llama.cpp's
/// unicode_len_utf8): continuation or invalid bytes count as one-byte characters.
inline size_t utf8_len(unsigned char c) {
  static constexpr std::array<uint8_t, 16> kLen = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[c >> 4];
}

/// Length of the character at w[off]: the lead byte's length when the continuation bytes are
/// there, else 1 (a stray byte is a character of its own, which then falls back to its byte token).
inline size_t char_len_at(std::string_view w, size_t off) {
  const size_t len = utf8_len(static_cast<unsigned char>(w[off]));
  if (off + len > w.size()) return 1;
  for (size_t k = 1; k < len; ++k)
    if ((static_cast<unsigned char>(w[off + k]) & 0xC0) != 0x80) return 1;
  return len;
}

struct Sym {
  int32_t id;    // token id, -1 for a character that is not a token
  int32_t prev;  // neighbours in the live chain, -1 at the ends
  int32_t next;
  uint32_t off;  // byte range in the word
  uint32_t len;  // 0 once merged into its left neighbour
};

struct Bigram {
  int32_t rank, left, right, left_id, right_id, result;
};

struct BigramAfter {  // max-heap comparator => lowest rank, then leftmost, on top
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

struct Scratch {
  std::string esc;
  std::vector<Sym> syms;
  std::vector<Bigram> heap;
};

} // namespace

struct Tokenizer::Impl {
  Vocab vocab;
  std::vector<std::string> pieces;                  // decoded bytes per id
  std::vector<uint8_t> special;                     // skipped when !render_special
  std::vector<TokenType> acts_as;                   // effective_token_type per id
  std::vector<uint8_t> eog;                         // 1 for the end-of-generation set
  std::vector<int32_t> eog_ids;                     // end_of_generation_set(vocab)
  std::unordered_map<std::string_view, int32_t> ids;  // views into vocab.tokens
  std::array<int32_t, 128> ascii_id{};              // single ASCII character tokens
  FlatMap64 char_id;                                // codepoint bytes (packed) -> id
  FlatMap64 merges;                                 // (left<<32|right) -> (rank<<32|result)
  std::array<int32_t, 256> byte_id{};               // <0xNN> tokens
  // Trie over the added tokens (UserDefined, Control, Unknown) for whole-token matching.
  FlatMap64 trie_edges;                             // (node<<8|byte) -> child
  std::vector<int32_t> trie_token;                  // node -> token id or -1
  std::array<bool, 256> trie_first{};

  int32_t find_char(std::string_view c) const {
    if (c.size() == 1 && static_cast<unsigned char>(c[0]) < 128) return ascii_id[static_cast<unsigned char>(c[0])];
    uint64_t key = 0;
    for (unsigned char b : c) key = (key << 8) | b;
    const uint64_t* v = char_id.find(key | (uint64_t{c.size()} << 40));
    return v ? static_cast<int32_t>(*v) : -1;
  }

  void bpe(std::string_view w, Scratch& s, std::vector<int32_t>& out) const;
  void encode_fragment(std::string_view frag, Scratch& s, std::vector<int32_t>& out) const;
};

namespace {

[[noreturn]] void vocab_fail(const std::string& msg) { throw VocabError("invalid vocabulary: " + msg); }

/// s for an error message: control bytes and non-ASCII as \xNN, at most 40 characters.
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') out += fmt::format("\\x{:02X}", c);
    else out += static_cast<char>(c);
  }
  if (s.size() > 40) out += "...";
  return out;
}

void check_id(int32_t id, size_t n, const char* what) {
  if (id < -1 || id >= static_cast<int64_t>(n))
    vocab_fail(fmt::format("{} = {} is out of range (vocabulary has {} tokens; -1 = none)", what, id, n));
}

} // namespace

Tokenizer::Tokenizer(const Vocab& v) {
  auto impl = std::make_shared<Impl>();
  Impl& m = *impl;
  m.vocab = v;
  const Vocab& V = m.vocab;
  const size_t n = V.tokens.size();

  if (V.model != "gemma4")
    vocab_fail(fmt::format("tokenizer model \"{}\"{} is not supported (expected \"gemma4\", or Ollama's \"llama\" "
                           "with pre \"gemma4\" and merges)",
                           V.model, V.pre.empty() ? std::string() : fmt::format(" (pre \"{}\")", V.pre)));
  if (n == 0) vocab_fail("no tokens");
  if (n > static_cast<size_t>(INT32_MAX)) vocab_fail("too many tokens");
  if (V.types.size() != n)
    vocab_fail(fmt::format("token_type has {} entries but there are {} tokens", V.types.size(), n));
  if (!V.scores.empty() && V.scores.size() != n)
    vocab_fail(fmt::format("scores has {} entries but there are {} tokens", V.scores.size(), n));
  for (size_t i = 0; i < n; ++i) {
    const auto t = static_cast<int32_t>(V.types[i]);
    if (t < 0 || t > static_cast<int32_t>(TokenType::Byte))
      vocab_fail(fmt::format("token_type[{}] = {} is not a token type (0..6)", i, t));
  }
  check_id(V.bos_id, n, "bos_token_id");
  check_id(V.eos_id, n, "eos_token_id");
  check_id(V.pad_id, n, "padding_token_id");
  check_id(V.unk_id, n, "unknown_token_id");
  for (int32_t e : V.eog_ids) check_id(e, n, "eog id");
  if (V.add_bos && V.bos_id < 0) vocab_fail("add_bos_token is set but there is no bos_token_id");
  if (V.merges.empty()) vocab_fail("merges are missing (a gemma4 BPE vocabulary needs tokenizer.ggml.merges)");

  m.ascii_id.fill(-1);
  m.byte_id.fill(-1);
  m.ids.reserve(n);
  size_t n_chars = 0;
  for (const std::string& t : V.tokens)
    n_chars += !t.empty() && utf8_len(static_cast<unsigned char>(t[0])) == t.size();
  m.char_id.reserve(n_chars + 16);
  m.pieces.resize(n);
  m.special.resize(n);
  m.acts_as.resize(n);
  m.eog.assign(n, 0);
  m.eog_ids = end_of_generation_set(V);
  for (int32_t e : m.eog_ids) m.eog[e] = 1;
  size_t trie_nodes_est = 1;
  for (size_t i = 0; i < n; ++i) {
    const std::string& t = V.tokens[i];
    const auto id = static_cast<int32_t>(i);
    const TokenType ty = effective_token_type(V, i);
    m.acts_as[i] = ty;
    if (!t.empty()) m.ids[t] = id;  // later duplicates win, as in llama.cpp
    if (!t.empty() && utf8_len(static_cast<unsigned char>(t[0])) == t.size()) {
      if (t.size() == 1 && static_cast<unsigned char>(t[0]) < 128) {
        m.ascii_id[static_cast<unsigned char>(t[0])] = id;
      } else {
        uint64_t key = 0;
        for (unsigned char b : t) key = (key << 8) | b;
        key |= uint64_t{t.size()} << 40;
        m.char_id.set(key, static_cast<uint64_t>(id));  // later duplicates win
      }
    }
    if (ty == TokenType::Byte) {
      const int b = parse_byte_token(t);  // strict: "<0x" two hex digits ">"
      if (b < 0)
        vocab_fail(fmt::format("token {} is typed BYTE but its text \"{}\" is not a byte token <0xNN>", i,
                               printable(t)));
      m.byte_id[static_cast<size_t>(b)] = id;
      m.pieces[i] = std::string(1, static_cast<char>(b));
    } else if (ty == TokenType::Control || ty == TokenType::Unknown || ty == TokenType::Unused) {
      m.pieces[i] = t;
      m.special[i] = 1;
    } else {
      std::string& p = m.pieces[i];
      p.reserve(t.size());
      for (size_t k = 0; k < t.size();) {
        if (t.compare(k, kSpaceEscape.size(), kSpaceEscape) == 0) {
          p += ' ';
          k += kSpaceEscape.size();
        } else {
          p += t[k++];
        }
      }
    }
    if ((ty == TokenType::Control || ty == TokenType::UserDefined || ty == TokenType::Unknown) && !t.empty())
      trie_nodes_est += t.size();
  }

  // Merges.
  m.merges.reserve(V.merges.size());
  for (size_t r = 0; r < V.merges.size(); ++r) {
    const std::string& mg = V.merges[r];
    const size_t sp = mg.find(' ', 1);
    if (sp == std::string::npos || sp + 1 >= mg.size())
      vocab_fail(fmt::format("merge {} \"{}\" is not of the form \"left right\"", r, mg));
    const std::string_view left(mg.data(), sp), right(mg.data() + sp + 1, mg.size() - sp - 1);
    const auto li = m.ids.find(left), ri = m.ids.find(right);
    if (li == m.ids.end())
      vocab_fail(fmt::format("merge {} \"{}\" names an unknown token \"{}\"", r, mg, left));
    if (ri == m.ids.end())
      vocab_fail(fmt::format("merge {} \"{}\" names an unknown token \"{}\"", r, mg, right));
    std::string joined(left);
    joined += right;
    const auto ji = m.ids.find(joined);
    if (ji == m.ids.end())
      vocab_fail(fmt::format("merge {} \"{}\" makes \"{}\", which is not a token", r, mg, joined));
    const uint64_t key = (static_cast<uint64_t>(li->second) << 32) | static_cast<uint32_t>(ri->second);
    m.merges.insert(key, (static_cast<uint64_t>(r) << 32) | static_cast<uint32_t>(ji->second));
  }

  // Added-token trie.
  m.trie_edges.reserve(trie_nodes_est);
  m.trie_token.assign(1, -1);
  m.trie_first.fill(false);
  for (size_t i = 0; i < n; ++i) {
    const TokenType ty = m.acts_as[i];
    const std::string& t = V.tokens[i];
    if (t.empty() || !(ty == TokenType::Control || ty == TokenType::UserDefined || ty == TokenType::Unknown))
      continue;
    m.trie_first[static_cast<unsigned char>(t[0])] = true;
    uint64_t node = 0;
    for (unsigned char b : t) {
      const uint64_t key = (node << 8) | b;
      if (const uint64_t* c = m.trie_edges.find(key)) {
        node = *c;
      } else {
        const uint64_t child = m.trie_token.size();
        m.trie_token.push_back(-1);
        m.trie_edges.insert(key, child);
        node = child;
      }
    }
    m.trie_token[node] = static_cast<int32_t>(i);  // later duplicates win
  }
  impl_ = std::move(impl);
}

void Tokenizer::Impl::bpe(std::string_view w, Scratch& s, std::vector<int32_t>& out) const {
  auto& syms = s.syms;
  auto& heap = s.heap;
  syms.clear();
  heap.clear();
  for (size_t off = 0; off < w.size();) {
    const size_t len = char_len_at(w, off);
    const auto idx = static_cast<int32_t>(syms.size());
    syms.push_back({find_char(w.substr(off, len)), idx - 1, -1, static_cast<uint32_t>(off),
                    static_cast<uint32_t>(len)});
    if (idx > 0) syms[idx - 1].next = idx;
    off += len;
  }
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t a = syms[l].id, b = syms[r].id;
    if (a < 0 || b < 0) return;
    const uint64_t* v = merges.find((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b));
    if (!v) return;
    heap.push_back({static_cast<int32_t>(*v >> 32), l, r, a, b, static_cast<int32_t>(*v & 0xffffffffu)});
    std::push_heap(heap.begin(), heap.end(), BigramAfter{});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BigramAfter{});
    const Bigram bg = heap.back();
    heap.pop_back();
    Sym& L = syms[bg.left];
    Sym& R = syms[bg.right];
    // Stale entry: a side was merged away or into something else since it was queued.
    if (L.len == 0 || R.len == 0 || L.next != bg.right || L.id != bg.left_id || R.id != bg.right_id)
      continue;
    L.id = bg.result;
    L.len += R.len;
    R.len = 0;
    L.next = R.next;
    if (R.next >= 0) syms[R.next].prev = bg.left;
    try_add(L.prev, bg.left);
    try_add(bg.left, L.next);
  }
  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
    const Sym& sy = syms[i];
    if (sy.id >= 0) {
      out.push_back(sy.id);
      continue;
    }
    for (uint32_t k = 0; k < sy.len; ++k) {  // byte fallback
      const int32_t b = byte_id[static_cast<unsigned char>(w[sy.off + k])];
      if (b >= 0) out.push_back(b);
      else if (vocab.unk_id >= 0) out.push_back(vocab.unk_id);
    }
  }
}

void Tokenizer::Impl::encode_fragment(std::string_view frag, Scratch& s, std::vector<int32_t>& out) const {
  std::string& esc = s.esc;
  esc.clear();
  esc.reserve(frag.size() + frag.size() / 2);
  for (char c : frag) {
    if (c == ' ') esc += kSpaceEscape;
    else esc += c;
  }
  const std::string_view e = esc;
  for (size_t i = 0; i < e.size();) {
    size_t j = i;
    if (e[i] == '\n') {
      while (j < e.size() && e[j] == '\n') ++j;
      const auto it = ids.find(e.substr(i, j - i));
      if (it != ids.end()) out.push_back(it->second);
      else bpe(e.substr(i, j - i), s, out);
    } else {
      j = e.find('\n', i);
      if (j == std::string_view::npos) j = e.size();
      bpe(e.substr(i, j - i), s, out);
    }
    i = j;
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos) {
    if (m.vocab.bos_id < 0) throw TokenizerError("encode: add_bos requested but the vocabulary has no bos token");
    out.push_back(m.vocab.bos_id);
  }
  Scratch s;
  size_t frag_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (!m.trie_first[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    // Longest enabled added token starting at pos.
    int32_t best = -1;
    size_t best_len = 0;
    uint64_t node = 0;
    for (size_t k = pos; k < text.size(); ++k) {
      const uint64_t* c = m.trie_edges.find((node << 8) | static_cast<unsigned char>(text[k]));
      if (!c) break;
      node = *c;
      const int32_t t = m.trie_token[node];
      if (t >= 0 && (parse_special || m.acts_as[t] == TokenType::UserDefined)) {
        best = t;
        best_len = k + 1 - pos;
      }
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    if (pos > frag_start) m.encode_fragment(text.substr(frag_start, pos - frag_start), s, out);
    out.push_back(best);
    pos += best_len;
    frag_start = pos;
  }
  if (frag_start < text.size()) m.encode_fragment(text.substr(frag_start), s, out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  const Impl& m = *impl_;
  std::string raw;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= m.pieces.size())
      throw TokenizerError(fmt::format("decode: token id {} is out of range (vocabulary has {} tokens)", id,
                                       m.pieces.size()));
    if (m.special[id] && !render_special) continue;
    raw += m.pieces[id];
  }
  std::string out;
  out.reserve(raw.size());
  utf8_sanitize_append(raw, out, true);
  return out;
}

const std::string& Tokenizer::piece(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->pieces.size())
    throw TokenizerError(fmt::format("token id {} is out of range", id));
  return impl_->pieces[id];
}

bool Tokenizer::is_special(int32_t id) const {
  piece(id);
  return impl_->special[id] != 0;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  piece(id);
  return impl_->vocab.tokens[id];
}

int32_t Tokenizer::token_id(std::string_view text) const {
  auto it = impl_->ids.find(text);
  return it == impl_->ids.end() ? -1 : it->second;
}

TokenType Tokenizer::token_type(int32_t id) const {
  piece(id);
  return impl_->vocab.types[id];
}

size_t Tokenizer::n_vocab() const { return impl_->vocab.tokens.size(); }
int32_t Tokenizer::bos_id() const { return impl_->vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->vocab.eos_id; }
int32_t Tokenizer::pad_id() const { return impl_->vocab.pad_id; }
int32_t Tokenizer::unk_id() const { return impl_->vocab.unk_id; }
const Vocab& Tokenizer::vocab() const { return impl_->vocab; }

bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->eog.size() && impl_->eog[id] != 0;
}

const std::vector<int32_t>& Tokenizer::eog_ids() const { return impl_->eog_ids; }

TokenType Tokenizer::acts_as(int32_t id) const {
  piece(id);
  return impl_->acts_as[id];
}

// ---- UTF-8 ----------------------------------------------------------------------------------

size_t utf8_sanitize_append(std::string_view in, std::string& out, bool final) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Well-formed sequences (Unicode Table 3-7): lead byte -> length and the range of byte 2.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    if (len == 0) {  // stray continuation byte or impossible lead
      out += kReplacement;
      ++i;
      continue;
    }
    size_t k = 1;
    for (; k < len && i + k < n; ++k) {
      const unsigned char b = p[i + k];
      const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (b < l || b > h) break;
    }
    if (k == len) {
      out.append(in.data() + i, len);
      i += len;
    } else if (i + k == n) {  // ran out of input: incomplete but valid so far
      if (!final) return n - i;
      out += kReplacement;
      return 0;
    } else {  // ill-formed: the maximal valid subpart becomes one U+FFFD
      out += kReplacement;
      i += k;
    }
  }
  return 0;
}

// ---- StreamingDetokenizer -----------------------------------------------------------------------

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tok, bool render_special)
    : tok_(tok), render_special_(render_special) {}

std::string StreamingDetokenizer::push(int32_t id) {
  const std::string& p = tok_.piece(id);
  if (tok_.is_special(id) && !render_special_) return {};
  pending_ += p;
  std::string out;
  const size_t keep = utf8_sanitize_append(pending_, out, false);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamingDetokenizer::flush() {
  std::string out;
  utf8_sanitize_append(pending_, out, true);
  pending_.clear();
  return out;
}

void StreamingDetokenizer::reset() { pending_.clear(); }

} // namespace vkg
