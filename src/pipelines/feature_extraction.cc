// feature-extraction: the encoder's last_hidden_state per token, or pooled (mean over the attention
// mask, or the first token), optionally L2-normalised.
#include <cmath>

#include "core/error.h"
#include "pipelines/tasks.h"
#include "pipelines/tensor_rows.h"

namespace kiln::pipelines {

FeatureExtractionPipeline::FeatureExtractionPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options)
    : EncoderTask("feature-extraction", std::move(dir), std::move(options)) {
  const std::string& p = options_.pooling;
  KILN_CHECK(p == "none" || p == "mean" || p == "cls", BadInput, "pooling '{}' is not one of none, mean, cls", p);
}

std::vector<std::vector<std::vector<float>>> FeatureExtractionPipeline::embed(const std::vector<PipelineInput>& inputs) {
  std::vector<Encoding> enc = encode_all(inputs);
  std::vector<std::vector<std::vector<float>>> out(inputs.size());
  for_chunks(enc, [&](std::span<const Encoding> chunk, const NamedTensors& outs, size_t first) {
    auto it = outs.find("last_hidden_state");
    const Tensor& h = it != outs.end() ? it->second : output(outs, "last_hidden_state", 3);
    KILN_CHECK(h.rank() == 3, BadModel, "{}: last_hidden_state has shape {}, expected [batch, tokens, hidden]",
               graph_path_, shape_str(h.shape()));
    const int64_t S = h.dim(1), H = h.dim(2);
    std::vector<float> all = as_floats(h);
    for (size_t b = 0; b < chunk.size(); ++b) {
      const size_t n = chunk[b].ids.size();
      auto vec = [&](size_t t) {
        return std::vector<float>(all.begin() + (b * S + t) * H, all.begin() + (b * S + t + 1) * H);
      };
      auto& r = out[first + b];
      if (options_.pooling == "cls") {
        r.push_back(vec(0));
      } else if (options_.pooling == "mean") {
        std::vector<double> acc(H, 0.0);
        double cnt = 0;
        for (size_t t = 0; t < n; ++t) {
          if (!chunk[b].attention_mask.empty() && !chunk[b].attention_mask[t]) continue;
          auto v = vec(t);
          for (int64_t k = 0; k < H; ++k) acc[k] += v[k];
          cnt += 1;
        }
        std::vector<float> m(H);
        for (int64_t k = 0; k < H; ++k) m[k] = (float)(acc[k] / std::max(cnt, 1e-9));
        r.push_back(m);
      } else {
        for (size_t t = 0; t < n; ++t) r.push_back(vec(t));
      }
      if (options_.normalize)
        for (auto& v : r) {
          double ss = 0;
          for (float x : v) ss += (double)x * x;
          const double norm = std::max(std::sqrt(ss), 1e-12);
          for (float& x : v) x = (float)(x / norm);
        }
    }
  });
  return out;
}

std::vector<nlohmann::json> FeatureExtractionPipeline::run(const std::vector<PipelineInput>& inputs) {
  std::vector<nlohmann::json> res;
  for (auto& e : embed(inputs)) {
    if (options_.pooling == "none") res.push_back({{"embeddings", e}});
    else res.push_back({{"embedding", e[0]}});
  }
  return res;
}

}  // namespace kiln::pipelines
