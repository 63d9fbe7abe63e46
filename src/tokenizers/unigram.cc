// Unigram: the segmentation with the highest total log-probability (Viterbi over a lattice of
// vocabulary pieces found with a byte trie). Characters no piece covers become the unknown token
// (score: lowest piece score - 10), consecutive ones fused into one; with byte_fallback they become
// <0xXX> tokens instead. Ties go to the path the reference keeps (first best predecessor).
#include <limits>

#include "tokenizers/model.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {
namespace {

class Unigram : public Model {
 public:
  Unigram(UnigramConfig c, const std::string& where) : byte_fallback_(c.byte_fallback) {
    if (c.vocab.empty()) bad_field(where + ".vocab", "is empty");
    scores_.resize(c.vocab.size());
    double min_score = std::numeric_limits<double>::infinity();
    nodes_.push_back(Node{});
    for (size_t i = 0; i < c.vocab.size(); ++i) {
      auto& [piece, score] = c.vocab[i];
      set_vocab_entry(piece, int32_t(i));
      scores_[i] = score;
      min_score = std::min(min_score, score);
      if (piece.empty()) continue;
      uint32_t n = 0;
      for (unsigned char ch : piece) {
        uint64_t key = (uint64_t(n) << 8) | ch;
        const uint32_t* nx = edges_.find(key);
        if (nx) { n = *nx; continue; }
        uint32_t m = uint32_t(nodes_.size());
        nodes_.push_back(Node{});
        edges_.set(key, m);
        n = m;
      }
      nodes_[n].id = int32_t(i);  // duplicated pieces: the last id wins, as in the reference
    }
    unk_score_ = min_score - 10.0;
    if (c.unk_id) {
      if (*c.unk_id < 0 || size_t(*c.unk_id) >= c.vocab.size()) bad_field(where + ".unk_id", "is outside the vocabulary");
      unk_id_ = *c.unk_id;
      unk_token_ = c.vocab[size_t(*c.unk_id)].first;
      scores_[size_t(*c.unk_id)] = unk_score_;
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const int32_t* id = vocab_.find(name);
      byte_ids_[b] = id ? *id : -1;
    }
  }

  void tokenize(std::string_view w, std::vector<ModelToken>& out) const override {
    size_t n = w.size();
    if (n == 0) return;
    thread_local std::vector<double> best;
    thread_local std::vector<int32_t> from, tok;
    best.assign(n + 1, 0.0);
    from.assign(n + 1, -1);
    tok.assign(n + 1, -2);  // -2: unreached, -1: unknown
    from[0] = 0;
    auto relax = [&](size_t b, size_t e, double score, int32_t id) {
      if (tok[e] == -2 || score > best[e]) { best[e] = score; from[e] = int32_t(b); tok[e] = id; }
    };
    for (size_t b = 0; b < n;) {
      size_t len;
      decode_utf8(w, b, len);
      if (from[b] < 0) { b += len; continue; }
      double base = best[b];
      bool single = false;
      uint32_t node = 0;
      for (size_t i = b; i < n; ++i) {
        const uint32_t* nx = edges_.find((uint64_t(node) << 8) | static_cast<unsigned char>(w[i]));
        if (!nx) break;
        node = *nx;
        int32_t id = nodes_[node].id;
        if (id < 0) continue;
        size_t e = i + 1;
        if (e < n && (static_cast<unsigned char>(w[e]) & 0xC0) == 0x80) continue;
        if (e == b + len) single = true;
        relax(b, e, base + scores_[size_t(id)], id);
      }
      if (!single) relax(b, b + len, base + unk_score_, -1);
      b += len;
    }
    // Backtrack from the end.
    thread_local std::vector<ModelToken> rev;
    rev.clear();
    for (size_t e = n; e > 0;) {
      size_t b = size_t(from[e]);
      int32_t id = tok[e];
      rev.push_back({id, uint32_t(b), uint32_t(e)});
      e = b;
    }
    bool last_unk = false;
    for (auto it = rev.rbegin(); it != rev.rend(); ++it) {
      ModelToken t = *it;
      if (t.id == -1 && unk_id_) t.id = *unk_id_;
      bool is_unk = it->id == -1 || (unk_id_ && t.id == *unk_id_);
      if (is_unk && byte_fallback_) {
        bool all = true;
        for (uint32_t k = t.b; k < t.e; ++k) all = all && byte_ids_[static_cast<unsigned char>(w[k])] >= 0;
        if (all) {
          for (uint32_t k = t.b; k < t.e; ++k) {
            unsigned char byte = static_cast<unsigned char>(w[k]);
            out.push_back({byte_ids_[byte], k, k + 1, false, int16_t(byte)});
          }
          last_unk = false;
          continue;
        }
      }
      if (is_unk) {
        if (t.id < 0) continue;  // no unknown token in the model
        if (last_unk) { out.back().e = t.e; continue; }  // fuse consecutive unknowns
        t.raw = true;
        out.push_back(t);
        last_unk = true;
        continue;
      }
      out.push_back(t);
      last_unk = false;
    }
  }

 private:
  struct Node {
    int32_t id = -1;
  };
  bool byte_fallback_;
  std::vector<double> scores_;
  double unk_score_ = 0;
  std::vector<Node> nodes_;
  U64Map<uint32_t> edges_;
  int32_t byte_ids_[256];
};

}  // namespace

std::unique_ptr<Model> make_unigram(UnigramConfig c, const std::string& where) { return std::make_unique<Unigram>(std::move(c), where); }

}  // namespace kiln::tokenizers
