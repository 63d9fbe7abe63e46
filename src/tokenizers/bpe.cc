// BPE: characters merged pair by pair, lowest merge rank first (leftmost on ties), with a
// priority queue over candidate pairs and a cache of whole words. Characters missing from the
// vocabulary become byte tokens <0xXX> (byte_fallback) or the unknown token.
#include <algorithm>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <unordered_map>

#include "tokenizers/model.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {
namespace {

struct Merge {
  int32_t rank = -1, id = -1;
};

class Bpe : public Model {
 public:
  Bpe(BpeConfig c, const std::string& where)
      : prefix_(std::move(c.continuing_subword_prefix)), byte_fallback_(c.byte_fallback), fuse_unk_(c.fuse_unk),
        ignore_merges_(c.ignore_merges) {
    eow_suffix_ = std::move(c.end_of_word_suffix);
    vocab_.reserve(c.vocab.size());
    for (auto& [t, id] : c.vocab) set_vocab_entry(t, id);
    if (c.unk_token) {
      unk_token_ = *c.unk_token;
      if (const int32_t* u = vocab_.find(unk_token_)) unk_id_ = *u;
    }
    for (size_t i = 0; i < c.merges.size(); ++i) {
      auto& [a, b] = c.merges[i];
      const int32_t* ia = vocab_.find(a);
      const int32_t* ib = vocab_.find(b);
      std::string ab = a + b;
      if (!prefix_.empty() && b.compare(0, prefix_.size(), prefix_) == 0) ab = a + b.substr(prefix_.size());
      const int32_t* iab = vocab_.find(ab);
      if (!ia || !ib || !iab)
        bad_field(where + ".merges[" + std::to_string(i) + "]", "(\"" + a + "\" \"" + b + "\") uses a token missing from the vocabulary");
      uint64_t key = (uint64_t(uint32_t(*ia)) << 32) | uint32_t(*ib);
      if (!merges_.find(key)) merges_.set(key, Merge{int32_t(i), *iab});
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const int32_t* id = vocab_.find(name);
      byte_ids_[b] = id ? *id : -1;
    }
  }

  void tokenize(std::string_view w, std::vector<ModelToken>& out) const override {
    if (w.empty()) return;
    if (ignore_merges_) {
      if (const int32_t* id = vocab_.find(w)) { out.push_back({*id, 0, uint32_t(w.size())}); return; }
    }
    bool cacheable = w.size() < 256;
    if (cacheable) {
      std::shared_lock lk(cache_mu_);
      auto it = cache_.find(std::string(w));
      if (it != cache_.end()) { out.insert(out.end(), it->second.begin(), it->second.end()); return; }
    }
    size_t mark = out.size();
    merge_word(w, out);
    if (cacheable) {
      std::unique_lock lk(cache_mu_);
      if (cache_.size() > 20000) cache_.clear();
      cache_.emplace(std::string(w), std::vector<ModelToken>(out.begin() + mark, out.end()));
    }
  }

 private:
  struct Sym {
    int32_t id;
    uint32_t b, e;
    int32_t prev, next;
  };
  struct Cand {
    int32_t rank, pos, left_id, right_id;
    bool operator<(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };

  void merge_word(std::string_view w, std::vector<ModelToken>& out) const {
    thread_local std::vector<Sym> syms;
    thread_local std::vector<Cand> heap;
    thread_local std::string buf;
    syms.clear();
    heap.clear();
    for (size_t i = 0; i < w.size();) {
      size_t len;
      decode_utf8(w, i, len);
      bool first = i == 0, last = i + len == w.size();
      const int32_t* id;
      if ((!prefix_.empty() && !first) || (!eow_suffix_.empty() && last)) {
        buf.clear();
        if (!first) buf += prefix_;
        buf.append(w, i, len);
        if (last) buf += eow_suffix_;
        id = vocab_.find(buf);
      } else {
        id = vocab_.find(w.substr(i, len));
      }
      int32_t n = int32_t(syms.size());
      syms.push_back({id ? *id : -1, uint32_t(i), uint32_t(i + len), n - 1, -1});
      if (n > 0) syms[n - 1].next = n;
      i += len;
    }
    auto push = [&](int32_t l) {
      int32_t r = syms[l].next;
      if (r < 0 || syms[l].id < 0 || syms[r].id < 0) return;
      const Merge* m = merges_.find((uint64_t(uint32_t(syms[l].id)) << 32) | uint32_t(syms[r].id));
      if (!m) return;
      heap.push_back({m->rank, l, syms[l].id, syms[r].id});
      std::push_heap(heap.begin(), heap.end());
    };
    for (int32_t i = 0; i + 1 < int32_t(syms.size()); ++i) push(i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end());
      Cand c = heap.back();
      heap.pop_back();
      Sym& l = syms[c.pos];
      if (l.id != c.left_id || l.next < 0) continue;  // stale
      Sym& r = syms[l.next];
      if (r.id != c.right_id) continue;
      const Merge* m = merges_.find((uint64_t(uint32_t(l.id)) << 32) | uint32_t(r.id));
      l.id = m->id;
      l.e = r.e;
      int32_t rn = r.next;
      r.id = -2;  // dead
      l.next = rn;
      if (rn >= 0) syms[rn].prev = c.pos;
      if (l.prev >= 0) push(l.prev);
      push(c.pos);
    }
    bool last_unk = false;
    for (int32_t i = 0; i >= 0 && i < int32_t(syms.size()); i = syms[i].next) {
      const Sym& s = syms[i];
      if (s.id >= 0) { out.push_back({s.id, s.b, s.e}); last_unk = false; continue; }
      if (byte_fallback_) {
        bool all = true;
        for (uint32_t k = s.b; k < s.e; ++k) all = all && byte_ids_[static_cast<unsigned char>(w[k])] >= 0;
        if (all) {
          for (uint32_t k = s.b; k < s.e; ++k) {
            unsigned char byte = static_cast<unsigned char>(w[k]);
            out.push_back({byte_ids_[byte], k, k + 1, false, int16_t(byte)});
          }
          last_unk = false;
          continue;
        }
      }
      if (!unk_id_) continue;  // no unknown token: the reference drops the piece
      if (fuse_unk_ && last_unk) { out.back().e = s.e; continue; }
      out.push_back({*unk_id_, s.b, s.e});
      last_unk = true;
    }
  }

  std::string prefix_;
  bool byte_fallback_, fuse_unk_, ignore_merges_;
  U64Map<Merge> merges_;
  int32_t byte_ids_[256];
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<ModelToken>> cache_;
};

}  // namespace

std::unique_ptr<Model> make_bpe(BpeConfig c, const std::string& where) { return std::make_unique<Bpe>(std::move(c), where); }

}  // namespace kiln::tokenizers
