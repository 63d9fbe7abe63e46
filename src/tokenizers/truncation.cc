// Truncation (longest_first / only_first / only_second, stride windows kept as overflowing
// encodings, left or right) and padding (longest / max_length, pad_to_multiple_of, left or right),
// and batch encoding, with Hugging Face tokenizers' semantics.
#include <algorithm>

#include "core/error.h"
#include "tokenizers/pipeline.h"

namespace kiln::tokenizers {
namespace {

// The tokens of one sequence (sequence_ids == seq) as an encoding of their own.
Encoding part_of(const Encoding& e, int seq) {
  Encoding p;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e.sequence_ids[i] != seq) continue;
    p.ids.push_back(e.ids[i]);
    p.tokens.push_back(e.tokens[i]);
    p.offsets.push_back(e.offsets[i]);
  }
  return p;
}

Encoding slice(const Encoding& e, size_t b, size_t n) {
  Encoding p;
  size_t end = std::min(e.size(), b + n);
  p.ids.assign(e.ids.begin() + b, e.ids.begin() + end);
  p.tokens.assign(e.tokens.begin() + b, e.tokens.begin() + end);
  p.offsets.assign(e.offsets.begin() + b, e.offsets.begin() + end);
  return p;
}

// Cuts e to n tokens; the windows that follow (each repeating `stride` tokens of the previous)
// go to rest, in order.
Encoding cut(const Encoding& e, size_t n, size_t stride, bool left, std::vector<Encoding>& rest) {
  if (e.size() <= n) return e;
  if (n == 0) return Encoding{};
  size_t step = n > stride ? n - stride : 1;
  std::vector<Encoding> windows;
  if (!left) {
    for (size_t b = 0;; b += step) {
      windows.push_back(slice(e, b, n));
      if (b + n >= e.size()) break;
    }
  } else {
    for (size_t end = e.size();; end -= std::min(end, step)) {
      size_t b = end > n ? end - n : 0;
      windows.push_back(slice(e, b, end - b));
      if (b == 0) break;
    }
  }
  rest.assign(windows.begin() + 1, windows.end());
  return windows[0];
}

}  // namespace

void PipelineTokenizer::truncate(Encoding& e, const TruncationOptions& t, bool is_pair) const {
  if (t.strategy != "longest_first" && t.strategy != "only_first" && t.strategy != "only_second")
    throw BadInput("truncation strategy \"" + t.strategy + "\" is unknown; use longest_first, only_first or only_second");
  bool pair = is_pair || std::count(e.sequence_ids.begin(), e.sequence_ids.end(), 1) > 0;
  bool had_special = std::count(e.special_tokens_mask.begin(), e.special_tokens_mask.end(), 1) > 0;
  size_t specials = had_special ? num_special_tokens(pair) : 0;
  if (e.size() <= t.max_length) return;
  if (t.max_length < specials) throw BadInput("max_length " + std::to_string(t.max_length) + " is shorter than the special tokens the tokenizer adds; raise it");
  size_t budget = t.max_length - specials;
  Encoding a = part_of(e, 0), b = part_of(e, 1);
  bool left = t.direction == "left";
  size_t na = a.size(), nb = b.size();
  if (!pair) na = std::min(na, budget);
  else if (t.strategy == "only_first") {
    if (nb > budget) throw BadInput("the second sequence alone is longer than max_length; use longest_first or only_second");
    na = std::min(na, budget - nb);
  } else if (t.strategy == "only_second") {
    if (na > budget) throw BadInput("the first sequence alone is longer than max_length; use longest_first or only_first");
    nb = std::min(nb, budget - na);
  } else {
    while (na + nb > budget) {
      if (na > nb) --na;
      else --nb;
    }
  }
  std::vector<Encoding> over_a, over_b;
  Encoding ca = cut(a, na, t.stride, left, over_a);
  Encoding cb = cut(b, nb, t.stride, left, over_b);
  auto join = [&](Encoding x, Encoding* y) {
    post_->prepare(x);
    if (y) post_->prepare(*y);
    return post_->join(std::move(x), y, had_special);
  };
  Encoding out = pair ? join(ca, &cb) : join(ca, nullptr);
  for (auto& o : over_a) {
    Encoding cbc = cb;
    out.overflowing.push_back(pair ? join(o, &cbc) : join(o, nullptr));
  }
  for (auto& o : over_b) {
    Encoding cac = ca;
    out.overflowing.push_back(join(cac, &o));
  }
  e = std::move(out);
}

void PipelineTokenizer::pad(std::vector<Encoding>& batch, const PaddingOptions& p) const {
  if (p.strategy != "longest" && p.strategy != "max_length")
    throw BadInput("padding strategy \"" + p.strategy + "\" is unknown; use longest or max_length");
  size_t target = 0;
  if (p.strategy == "max_length") target = p.max_length;
  else for (auto& e : batch) target = std::max(target, e.size());
  if (p.pad_to_multiple_of > 0 && target % p.pad_to_multiple_of) target += p.pad_to_multiple_of - target % p.pad_to_multiple_of;
  std::optional<int64_t> pad_id = p.pad_id;
  std::optional<std::string> pad_tok = p.pad_token;
  if (!pad_id && pad_tok) pad_id = token_to_id(*pad_tok);
  if (!pad_id && c_.padding && c_.padding->pad_id) { pad_id = c_.padding->pad_id; pad_tok = c_.padding->pad_token; }
  if (!pad_id) pad_id = pad_token_id();
  if (!pad_id) throw BadInput("padding needs a pad token and this tokenizer has none; pass pad_id/pad_token");
  if (!pad_tok) pad_tok = id_to_token(*pad_id).value_or("");
  bool left = p.direction == "left";
  auto pad_one = [&](Encoding& e) {
    if (e.size() >= target) return;
    size_t n = target - e.size();
    auto ins = [&](auto& v, auto val) { left ? (void)v.insert(v.begin(), n, val) : (void)v.insert(v.end(), n, val); };
    ins(e.ids, *pad_id);
    ins(e.tokens, *pad_tok);
    ins(e.type_ids, p.pad_type_id);
    ins(e.attention_mask, int64_t(0));
    ins(e.special_tokens_mask, int64_t(1));
    ins(e.offsets, std::pair<size_t, size_t>(0, 0));
    ins(e.sequence_ids, -1);
  };
  for (auto& e : batch) {
    pad_one(e);
    for (auto& o : e.overflowing) pad_one(o);
  }
}

std::vector<Encoding> PipelineTokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special,
                                                      const std::optional<TruncationOptions>& truncation,
                                                      const std::optional<PaddingOptions>& padding) const {
  std::vector<Encoding> out(texts.size());
  std::exception_ptr err;
#pragma omp parallel for schedule(dynamic, 4) if (texts.size() > 8)
  for (long i = 0; i < long(texts.size()); ++i) {
    try {
      out[size_t(i)] = encode(texts[size_t(i)], add_special);
      if (truncation) truncate(out[size_t(i)], *truncation, false);
    } catch (...) {
#pragma omp critical
      err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
  if (padding) pad(out, *padding);
  return out;
}

}  // namespace kiln::tokenizers
