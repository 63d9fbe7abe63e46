// Text feature ops: StringNormalizer (stopword removal and case change over a [C] or [1, C]
// string tensor; Unicode case mapping through utf8proc) and TfIdfVectorizer (counts of pooled
// n-grams, with skips, over int or string tokens, as TF, IDF or TFIDF).
#include <map>
#include <set>

#include <utf8proc.h>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// Maps every code point of s through f (utf8proc_tolower / toupper); invalid UTF-8 is kept as is.
std::string map_case(const std::string& s, utf8proc_int32_t (*f)(utf8proc_int32_t)) {
  std::string out;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = (utf8proc_ssize_t)s.size();
  while (left > 0) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      out.push_back((char)*p);
      ++p;
      --left;
      continue;
    }
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t m = utf8proc_encode_char(f(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), (size_t)m);
    p += n;
    left -= n;
  }
  return out;
}

class StringNormalizerKernel : public OpKernel {
 public:
  explicit StringNormalizerKernel(const KernelInfo& info) {
    const Node& n = info.node;
    action_ = n.attr_string("case_change_action", "NONE");
    KILN_CHECK(action_ == "NONE" || action_ == "LOWER" || action_ == "UPPER", BadModel,
               "{}: case_change_action must be NONE, LOWER or UPPER", n.label());
    case_sensitive_ = n.attr_int("is_case_sensitive", 0) != 0;
    if (const Attribute* a = n.attr("stopwords"))
      for (const auto& w : a->strings) stop_.insert(case_sensitive_ ? w : map_case(w, utf8proc_tolower));
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.dtype() == DType::String && (x.rank() == 1 || (x.rank() == 2 && x.dim(0) == 1)), BadInput,
               "{}: input must be strings of shape [C] or [1, C], got {} {}", ctx.node().label(),
               dtype_name(x.dtype()), shape_str(x.shape()));
    std::vector<std::string> kept;
    const std::string* p = x.data<std::string>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const std::string& s = p[i];
      if (!stop_.empty() && stop_.count(case_sensitive_ ? s : map_case(s, utf8proc_tolower))) continue;
      if (action_ == "LOWER") kept.push_back(map_case(s, utf8proc_tolower));
      else if (action_ == "UPPER") kept.push_back(map_case(s, utf8proc_toupper));
      else kept.push_back(s);
    }
    if (kept.empty()) kept.push_back("");  // everything removed: one empty string
    Shape shape = x.rank() == 1 ? Shape{(int64_t)kept.size()} : Shape{1, (int64_t)kept.size()};
    Tensor y(DType::String, shape);
    for (size_t i = 0; i < kept.size(); ++i) y.data<std::string>()[i] = kept[i];
    ctx.set_output(0, y);
  }

 private:
  std::string action_;
  bool case_sensitive_ = false;
  std::set<std::string> stop_;
};

class TfIdfKernel : public OpKernel {
 public:
  explicit TfIdfKernel(const KernelInfo& info) {
    const Node& n = info.node;
    min_n_ = n.attr_int("min_gram_length", 1);
    max_n_ = n.attr_int("max_gram_length", 1);
    max_skip_ = n.attr_int("max_skip_count", 0);
    std::string mode = n.attr_string("mode", "TF");
    KILN_CHECK(mode == "TF" || mode == "IDF" || mode == "TFIDF", BadModel, "{}: mode must be TF, IDF or TFIDF",
               n.label());
    mode_ = mode;
    std::vector<int64_t> counts = n.attr_ints("ngram_counts"), indexes = n.attr_ints("ngram_indexes");
    weights_ = n.attr_floats("weights");
    KILN_CHECK(min_n_ >= 1 && max_n_ >= min_n_ && max_skip_ >= 0 && !counts.empty(), BadModel,
               "{}: needs 1 <= min_gram_length <= max_gram_length, max_skip_count >= 0 and ngram_counts",
               n.label());
    // Pool entries as strings (ints printed) so one map serves both token types.
    std::vector<std::string> pool;
    if (const Attribute* a = n.attr("pool_strings")) {
      pool = a->strings;
      string_pool_ = true;
    } else {
      for (int64_t v : n.attr_ints("pool_int64s")) pool.push_back(std::to_string(v));
    }
    size_t gram = 0;
    for (size_t len = 1; len <= counts.size(); ++len) {
      size_t begin = (size_t)counts[len - 1], end = len < counts.size() ? (size_t)counts[len] : pool.size();
      KILN_CHECK(begin <= end && end <= pool.size() && (end - begin) % len == 0, BadModel,
                 "{}: ngram_counts do not split the pool into whole n-grams", n.label());
      for (size_t at = begin; at < end; at += len, ++gram) {
        KILN_CHECK(gram < indexes.size(), BadModel, "{}: fewer ngram_indexes than n-grams in the pool", n.label());
        std::vector<std::string> key(pool.begin() + at, pool.begin() + at + len);
        grams_[key] = indexes[gram];
        outputs_ = std::max(outputs_, indexes[gram] + 1);
      }
    }
    KILN_CHECK(weights_.empty() || (int64_t)weights_.size() >= outputs_, BadModel,
               "{}: weights must have one value per output", n.label());
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.rank() == 1 || x.rank() == 2, BadInput, "{}: input must be [N] or [B, N]", ctx.node().label());
    KILN_CHECK((x.dtype() == DType::String) == string_pool_, BadInput, "{}: input type {} does not match the pool",
               ctx.node().label(), dtype_name(x.dtype()));
    const int64_t B = x.rank() == 2 ? x.dim(0) : 1, N = x.dim(-1);
    std::vector<std::string> tok(x.numel());
    for (int64_t i = 0; i < x.numel(); ++i)
      tok[i] = string_pool_ ? x.data<std::string>()[i] : std::to_string(x.item_i64(i));
    Tensor y = Tensor::zeros(DType::F32, x.rank() == 2 ? Shape{B, outputs_} : Shape{outputs_});
    float* py = y.data<float>();
    for (int64_t b = 0; b < B; ++b) {
      const std::string* row = tok.data() + b * N;
      float* out = py + b * outputs_;
      for (int64_t len = min_n_; len <= max_n_; ++len) {
        const int64_t skips = len == 1 ? 0 : max_skip_;  // a unigram counts once, whatever the skip
        for (int64_t skip = 0; skip <= skips; ++skip) {
          const int64_t stride = skip + 1;
          for (int64_t start = 0; start + (len - 1) * stride < N; ++start) {
            std::vector<std::string> key;
            for (int64_t k = 0; k < len; ++k) key.push_back(row[start + k * stride]);
            auto it = grams_.find(key);
            if (it != grams_.end()) out[it->second] += 1;
          }
        }
      }
      for (int64_t o = 0; o < outputs_; ++o) {
        float w = weights_.empty() ? 1.0f : weights_[o];
        if (mode_ == "IDF") out[o] = out[o] > 0 ? w : 0.0f;
        else if (mode_ == "TFIDF") out[o] *= w;
      }
    }
    ctx.set_output(0, y);
  }

 private:
  int64_t min_n_ = 1, max_n_ = 1, max_skip_ = 0, outputs_ = 0;
  std::string mode_;
  std::vector<float> weights_;
  bool string_pool_ = false;
  std::map<std::vector<std::string>, int64_t> grams_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_text_feature_kernels) {
  r.add({DeviceType::Cpu, "", "StringNormalizer", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<StringNormalizerKernel>(info); });
  r.add({DeviceType::Cpu, "", "TfIdfVectorizer", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<TfIdfKernel>(info); });
}

}  // namespace kiln::cpu
