#include "pipelines/generation/decoder.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "pipelines/tensor_rows.h"

namespace kiln::pipelines::generation {
using pipelines::i64_matrix;

namespace {

const char* kPastPrefixes[] = {"past_key_values.", "past_key_values_", "past."};
const char* kPresentPrefixes[] = {"present.", "present_key_values.", "present_"};

// "past_key_values.0.decoder.key" -> "0.decoder.key"; "" when name is not a past input.
std::string past_key(const std::string& name) {
  for (const char* p : kPastPrefixes)
    if (name.rfind(p, 0) == 0) return name.substr(std::string(p).size());
  return "";
}
std::string present_key(const std::string& name) {
  for (const char* p : kPresentPrefixes)
    if (name.rfind(p, 0) == 0) return name.substr(std::string(p).size());
  return "";
}
bool is_cross_attention(const std::string& key) {
  return key.find("encoder") != std::string::npos || key.find("cross") != std::string::npos;
}

// [b, H, t, D] -> [t, b, H, D]: a first step's head-major present, for a with-past graph that keeps
// its caches time-major (SessionOptions::kv_cache_in_place).
Tensor time_major(const Tensor& x) {
  KILN_CHECK(x.rank() == 4, BadModel, "a KV cache of shape {}, expected [batch, heads, sequence, head_dim]",
             shape_str(x.shape()));
  const int64_t B = x.dim(0), H = x.dim(1), T = x.dim(2);
  const size_t row = (size_t)x.dim(3) * dtype_size(x.dtype());
  Tensor out(x.dtype(), {T, B, H, x.dim(3)});
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(out.raw());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) std::memcpy(dst + ((t * B + b) * H + h) * row, src + ((b * H + h) * T + t) * row, row);
  return out;
}

// Rows idx along axis 1 of a time-major cache [t, b, H, D], read through `table` (cache_rows: row
// r's step t is in batch row table[r * width + t] for t < width, in row r after).
Tensor take_time_major_rows(const Tensor& x, const std::vector<int64_t>& idx, const std::vector<int64_t>& table,
                            int64_t width) {
  const int64_t T = x.dim(0), B = x.dim(1), n = (int64_t)idx.size();
  const size_t row = (size_t)(x.dim(2) * x.dim(3)) * dtype_size(x.dtype());
  Tensor out(x.dtype(), {T, n, x.dim(2), x.dim(3)});
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(out.raw());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) {
      KILN_CHECK(idx[i] >= 0 && idx[i] < B, InternalError, "decoder select: row {} of {}", idx[i], B);
      const int64_t from = t < width ? table[(size_t)(idx[i] * width + t)] : idx[i];
      std::memcpy(dst + (t * n + i) * row, src + (t * B + from) * row, row);
    }
  return out;
}
}  // namespace

void check_decoder_inputs(const Session& s, const std::string& file, bool encoder_decoder) {
  for (const auto& v : s.inputs()) {
    const std::string& n = v.name;
    if (n == "input_ids" || n == "decoder_input_ids" || n == "use_cache_branch" || n == "position_ids" ||
        n == "cache_rows" || !past_key(n).empty())
      continue;
    if (encoder_decoder && (n == "encoder_attention_mask" || n == "encoder_hidden_states" || n == "attention_mask"))
      continue;
    if (!encoder_decoder && n == "attention_mask") continue;
    throw BadModel(fmt::format(
        "{}: input '{}' is not one a {} decoder takes; expected input_ids, {}past_key_values.*, use_cache_branch{}", file,
        n, encoder_decoder ? "encoder-decoder" : "decoder-only",
        encoder_decoder ? "encoder_attention_mask, encoder_hidden_states, " : "attention_mask, position_ids, ",
        encoder_decoder ? "" : " (is this an encoder-decoder model? then use --task text2text-generation)"));
  }
}

CachedDecoder::CachedDecoder(DecoderGraphs graphs, int64_t rows, Tensor encoder_hidden, Tensor encoder_mask,
                             bool use_cache)
    : g_(std::move(graphs)), rows_(rows), enc_hidden_(std::move(encoder_hidden)), enc_mask_(std::move(encoder_mask)),
      use_cache_(use_cache), source_(rows), ids_(rows) {
  for (int64_t r = 0; r < rows; ++r) source_[r] = r;
  if (g_.with_past)
    for (const auto& v : g_.with_past->inputs()) takes_rows_ = takes_rows_ || (v.name == "cache_rows" && v.optional);
  KILN_CHECK(g_.no_past || g_.merged || g_.with_past, BadModel, "no decoder graph to run");
  if (!g_.with_past && !g_.merged) use_cache_ = false;
  if (!g_.no_past && !g_.merged && g_.with_past) use_cache_ = true;  // a with-past-only graph starts from an empty past
}

NamedTensors CachedDecoder::feeds_for(const Session& s, const std::vector<std::vector<int64_t>>& new_ids,
                                      bool use_cache_branch) {
  NamedTensors f;
  const int64_t n = (int64_t)new_ids[0].size();
  const bool with_past = use_cache_branch;
  for (const auto& v : s.inputs()) {
    const std::string& name = v.name;
    if (name == "input_ids" || name == "decoder_input_ids") {
      f[name] = i64_matrix(new_ids);
    } else if (name == "encoder_attention_mask" || (enc_mask_.defined() && name == "attention_mask")) {
      f[name] = enc_mask_;
    } else if (name == "encoder_hidden_states") {
      f[name] = enc_hidden_;
    } else if (name == "attention_mask") {  // decoder-only: over past and new tokens
      const int64_t total = (with_past ? past_len_ : 0) + n;
      f[name] = i64_matrix(std::vector<std::vector<int64_t>>(rows_, std::vector<int64_t>(total, 1)));
    } else if (name == "position_ids") {
      const int64_t first = with_past ? past_len_ : 0;
      std::vector<int64_t> pos(n);
      for (int64_t i = 0; i < n; ++i) pos[i] = first + i;
      f[name] = i64_matrix(std::vector<std::vector<int64_t>>(rows_, pos));
    } else if (name == "cache_rows" && v.optional) {
      // Which batch row of the time-major caches holds each row's past steps, after beam reorders.
      if (with_past && !rows_table_.empty())
        f[name] = Tensor::from_vector<int64_t>({rows_, rows_width_}, rows_table_);
    } else if (name == "use_cache_branch") {
      f[name] = Tensor::from_vector<bool>({1}, {with_past});
    } else if (std::string key = past_key(name); !key.empty()) {
      auto it = cache_.find(key);
      if (with_past) {
        KILN_CHECK(it != cache_.end(), BadModel,
                   "decoder input '{}' has no matching 'present.{}' output in the first-step decoder graph", name, key);
        const bool have_time_major = time_major_.count(key) > 0;
        if (v.time_major && !have_time_major) {  // the first step's present, head-major
          it->second = time_major(it->second);
          time_major_.insert(key);
        }
        KILN_CHECK(v.time_major || !have_time_major, InternalError, "decoder input '{}': cache layouts disagree", name);
        f[name] = it->second;
      } else {
        // An empty past (sequence length 0) for the first step of a merged or with-past graph.
        int64_t heads = g_.num_heads, dim = g_.head_dim;
        const size_t heads_axis = v.time_major ? 2 : 1;
        if (v.shape && v.shape->size() == 4) {
          if ((*v.shape)[heads_axis].value) heads = *(*v.shape)[heads_axis].value;
          if ((*v.shape)[3].value) dim = *(*v.shape)[3].value;
        }
        KILN_CHECK(heads > 0 && dim > 0, BadModel,
                   "cannot size the empty past for '{}': its shape is open and config.json gives no head count", name);
        const DType dt = v.dtype == DType::Undefined ? DType::F32 : v.dtype;
        f[name] = v.time_major ? Tensor::zeros(dt, {0, rows_, heads, dim}) : Tensor::zeros(dt, {rows_, heads, 0, dim});
      }
    } else {
      throw BadModel(fmt::format("decoder input '{}' is not one kiln knows how to feed", name));
    }
  }
  return f;
}

void CachedDecoder::keep_presents(const Session& s, const NamedTensors& outs, bool first) {
  for (const auto& [name, t] : outs) {
    std::string key = present_key(name);
    if (key.empty()) continue;
    // Cross-attention keys/values depend only on the encoder: later steps keep the first ones.
    if (!first && is_cross_attention(key) && cache_.count(key)) continue;
    cache_[key] = t;
    const ValueInfo* info = nullptr;
    for (const auto& o : s.outputs())
      if (o.name == name) info = &o;
    if (info && info->time_major) time_major_.insert(key);
    else time_major_.erase(key);
  }
}

std::span<float> CachedDecoder::step(const std::vector<std::vector<int64_t>>& tokens) {
  KILN_CHECK((int64_t)tokens.size() == rows_, InternalError, "decoder step: {} rows for {}", tokens.size(), rows_);
  for (int64_t r = 0; r < rows_; ++r) ids_[r].insert(ids_[r].end(), tokens[r].begin(), tokens[r].end());
  const Session* s = nullptr;
  std::vector<std::vector<int64_t>> feed = tokens;
  if (!use_cache_) {  // re-run the whole sequence
    s = g_.no_past ? g_.no_past.get() : g_.merged.get();
    feed = ids_;
    past_len_ = 0;
  } else if (past_len_ == 0) {
    s = g_.no_past ? g_.no_past.get() : g_.merged ? g_.merged.get() : g_.with_past.get();
  } else {
    s = g_.with_past ? g_.with_past.get() : g_.merged.get();
  }
  const bool first = past_len_ == 0;
  NamedTensors outs = s->run(feeds_for(*s, feed, use_cache_ && past_len_ > 0));
  auto it = outs.find("logits");
  const Tensor& logits = it != outs.end() ? it->second : outs.begin()->second;
  KILN_CHECK(logits.rank() == 3 && logits.dim(0) == rows_, BadModel,
             "decoder logits have shape {}, expected [{}, sequence, vocab]", shape_str(logits.shape()), rows_);
  vocab_ = logits.dim(2);
  const int64_t seq = logits.dim(1);
  std::span<float> result;
  if (seq == 1 && logits.dtype() == DType::F32) {
    logits_ = logits;
    result = std::span<float>(logits_.data<float>(), (size_t)(rows_ * vocab_));
  } else {
    logits_ = Tensor();
    KILN_CHECK(dtype_is_float(logits.dtype()), BadModel, "decoder logits are {}, expected a float type",
               dtype_name(logits.dtype()));
    last_.resize((size_t)(rows_ * vocab_));
    const Tensor f = logits.dtype() == DType::F32 ? logits : logits.cast(DType::F32);
    const float* all = f.data<float>();
    for (int64_t r = 0; r < rows_; ++r)
      std::copy_n(all + (r * seq + seq - 1) * vocab_, vocab_, last_.begin() + r * vocab_);
    result = std::span<float>(last_);
  }
  if (use_cache_) {
    keep_presents(*s, outs, first);
    past_len_ += (int64_t)feed[0].size();
  }
  return result;
}

void CachedDecoder::select(const std::vector<int64_t>& rows) {
  // What comes from the encoder (its output, its mask, the cross-attention caches) is the same for
  // every row made from one input: when each new row comes from a row of the same input, it stays
  // as it is (a beam search's reorders, after the first repeat of each input for its beams).
  std::vector<int64_t> source(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    KILN_CHECK(rows[i] >= 0 && rows[i] < rows_, InternalError, "decoder select: row {} of {}", rows[i], rows_);
    source[i] = source_[(size_t)rows[i]];
  }
  const bool same_sources = source == source_;
  // The time-major caches (the with-past graph's, appended in place) are not copied when the graph
  // takes cache_rows and the row count stays: rows_table_ records where each row's steps are.
  const bool by_table = takes_rows_ && (int64_t)rows.size() == rows_ && !time_major_.empty();
  for (auto& [k, t] : cache_) {
    if (same_sources && is_cross_attention(k)) continue;
    if (!time_major_.count(k)) t = pipelines::take_rows(t, rows);
    else if (!by_table) t = take_time_major_rows(t, rows, rows_table_, rows_width_);
  }
  if (by_table) {
    // Row i takes old row rows[i]'s steps; steps appended since the table was made are in their own rows.
    std::vector<int64_t> table((size_t)(rows_ * past_len_));
    for (int64_t i = 0; i < rows_; ++i)
      for (int64_t t = 0; t < past_len_; ++t)
        table[(size_t)(i * past_len_ + t)] =
            t < rows_width_ ? rows_table_[(size_t)(rows[(size_t)i] * rows_width_ + t)] : rows[(size_t)i];
    rows_table_ = std::move(table);
    rows_width_ = past_len_;
  } else if (!time_major_.empty()) {
    rows_table_.clear();  // copied in row order
    rows_width_ = 0;
  }
  source_ = std::move(source);
  if (!same_sources && enc_hidden_.defined()) enc_hidden_ = pipelines::take_rows(enc_hidden_, rows);
  if (!same_sources && enc_mask_.defined()) enc_mask_ = pipelines::take_rows(enc_mask_, rows);
  std::vector<std::vector<int64_t>> ids;
  for (int64_t r : rows) ids.push_back(ids_[r]);
  ids_ = std::move(ids);
  rows_ = (int64_t)rows.size();
}

}  // namespace kiln::pipelines::generation
