// fill-mask: the top_k tokens for each mask position, with the filled-in sequence.
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "pipelines/generation/logits_processors.h"
#include "pipelines/tasks.h"
#include "pipelines/tensor_rows.h"

namespace kiln::pipelines {

FillMaskPipeline::FillMaskPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options)
    : EncoderTask("fill-mask", std::move(dir), std::move(options)) {}

std::vector<std::vector<std::vector<MaskFill>>> FillMaskPipeline::fill(const std::vector<PipelineInput>& inputs) {
  const Tokenizer& tok = dir_->tokenizer();
  // The configured mask token, else the usual names (BERT's [MASK], RoBERTa's <mask>).
  auto mask_id = tok.mask_token_id();
  std::string mask_str = tok.mask_token().value_or("");
  for (const char* name : {"[MASK]", "<mask>"})
    if (!mask_id)
      if ((mask_id = tok.token_to_id(name))) mask_str = name;
  KILN_CHECK(mask_id.has_value(), BadModel, "{}: the tokenizer has no mask token; task fill-mask needs one", dir_->dir());
  std::vector<Encoding> enc;
  for (size_t i = 0; i < inputs.size(); ++i) {
    enc.push_back(encode(inputs[i]));
    KILN_CHECK(std::count(enc.back().ids.begin(), enc.back().ids.end(), *mask_id) > 0, BadInput,
               "input {} has no mask token {}; put it where a word should be predicted", i + 1, mask_str);
  }
  const int k = options_.top_k.value_or(5);
  std::vector<std::vector<std::vector<MaskFill>>> out(inputs.size());
  for_chunks(enc, [&](std::span<const Encoding> chunk, const NamedTensors& outs, size_t first) {
    const Tensor& logits = output(outs, "logits", 3);
    const int64_t S = logits.dim(1), V = logits.dim(2);
    std::vector<float> all = as_floats(logits);
    for (size_t b = 0; b < chunk.size(); ++b) {
      const auto& ids = chunk[b].ids;
      for (size_t t = 0; t < ids.size(); ++t) {
        if (ids[t] != *mask_id) continue;
        std::vector<float> p(all.begin() + (b * S + t) * V, all.begin() + (b * S + t + 1) * V);
        generation::softmax_inplace(p);
        std::vector<int64_t> order(V);
        std::iota(order.begin(), order.end(), 0);
        const int64_t take = std::min<int64_t>(k, V);
        std::partial_sort(order.begin(), order.begin() + take, order.end(),
                          [&](int64_t x, int64_t y) { return p[x] > p[y] || (p[x] == p[y] && x < y); });
        std::vector<MaskFill> cands;
        for (int64_t i = 0; i < take; ++i) {
          std::vector<int64_t> filled = ids;
          filled[t] = order[i];
          cands.push_back({p[order[i]], order[i], tok.decode({order[i]}), tok.decode(filled, true)});
        }
        out[first + b].push_back(std::move(cands));
      }
    }
  });
  return out;
}

std::vector<nlohmann::json> FillMaskPipeline::run(const std::vector<PipelineInput>& inputs) {
  std::vector<nlohmann::json> res;
  for (auto& masks : fill(inputs)) {
    nlohmann::json per_mask = nlohmann::json::array();
    for (auto& cands : masks) {
      nlohmann::json l = nlohmann::json::array();
      for (auto& c : cands)
        l.push_back({{"score", c.score}, {"token", c.token}, {"token_str", c.token_str}, {"sequence", c.sequence}});
      per_mask.push_back(l);
    }
    res.push_back({{"predictions", per_mask.size() == 1 ? per_mask[0] : per_mask}});
  }
  return res;
}

}  // namespace kiln::pipelines
