// question-answering (extractive): the question and the context are encoded as a pair; long contexts
// are cut into windows that overlap by doc_stride tokens; the best span over all windows wins, as in
// transformers' QuestionAnsweringPipeline (softmax over allowed tokens, start x end <= max answer
// length, optional no-answer score from the [CLS] token).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "pipelines/tasks.h"
#include "pipelines/tensor_rows.h"

namespace kiln::pipelines {

QuestionAnsweringPipeline::QuestionAnsweringPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options)
    : EncoderTask("question-answering", std::move(dir), std::move(options)) {}

std::vector<Answer> QuestionAnsweringPipeline::answer(const std::vector<PipelineInput>& inputs) {
  std::vector<Encoding> windows;
  std::vector<size_t> owner;
  const Tokenizer& tok = dir_->tokenizer();
  for (size_t i = 0; i < inputs.size(); ++i) {
    KILN_CHECK(inputs[i].text_pair.has_value(), BadInput,
               "question-answering input {} has no context; give a question and a context", i + 1);
    Encoding e = tok.encode_pair(inputs[i].text, *inputs[i].text_pair);
    TruncationOptions t;
    t.max_length = options_.max_length.value_or(options_.max_seq_length);
    t.strategy = "only_second";
    t.stride = options_.doc_stride;
    tok.truncate(e, t, true);
    std::vector<Encoding> more = std::move(e.overflowing);
    e.overflowing.clear();
    windows.push_back(std::move(e)), owner.push_back(i);
    for (auto& m : more) windows.push_back(std::move(m)), owner.push_back(i);
  }
  std::vector<Answer> best(inputs.size());
  std::vector<bool> have(inputs.size(), false);
  std::vector<float> null_score(inputs.size(), 1e9f);
  for_chunks(windows, [&](std::span<const Encoding> chunk, const NamedTensors& outs, size_t first) {
    const Tensor& st = output(outs, "start_logits", 2);
    const Tensor& en = output(outs, "end_logits", 2);
    const int64_t S = st.dim(1);
    std::vector<float> sa = as_floats(st), ea = as_floats(en);
    for (size_t b = 0; b < chunk.size(); ++b) {
      const Encoding& e = chunk[b];
      const size_t in = owner[first + b], n = e.ids.size();
      // Only context tokens (sequence 1) may hold the answer; [CLS] (index 0) is the no-answer slot.
      std::vector<bool> allowed(n);
      for (size_t t = 0; t < n; ++t) allowed[t] = t < e.sequence_ids.size() && e.sequence_ids[t] == 1;
      auto probs = [&](const std::vector<float>& all) {
        std::vector<double> p(n);
        double m = -1e30, sum = 0;
        for (size_t t = 0; t < n; ++t) {
          p[t] = (allowed[t] || t == 0) ? all[b * S + t] : -10000.0;
          m = std::max(m, p[t]);
        }
        for (auto& v : p) v = std::exp(v - m), sum += v;
        for (auto& v : p) v /= sum;
        return p;
      };
      std::vector<double> ps = probs(sa), pe = probs(ea);
      null_score[in] = std::min(null_score[in], (float)(ps[0] * pe[0]));
      double top = -1;
      size_t bs = 0, be = 0;
      for (size_t s = 0; s < n; ++s) {
        if (!allowed[s]) continue;
        for (size_t t = s; t < n && t < s + options_.max_answer_length; ++t) {
          if (!allowed[t]) continue;
          double v = ps[s] * pe[t];
          if (v > top) top = v, bs = s, be = t;
        }
      }
      if (top < 0) continue;
      if (!have[in] || top > best[in].score) {
        const std::string& ctx = *inputs[in].text_pair;
        size_t b0 = e.offsets[bs].first, b1 = e.offsets[be].second;
        best[in] = {(float)top, char_offset(ctx, b0), char_offset(ctx, b1), ctx.substr(b0, b1 - b0)};
        have[in] = true;
      }
    }
  });
  for (size_t i = 0; i < inputs.size(); ++i)
    if (options_.handle_impossible_answer && (!have[i] || null_score[i] > best[i].score))
      best[i] = {null_score[i], 0, 0, ""};
  return best;
}

std::vector<nlohmann::json> QuestionAnsweringPipeline::run(const std::vector<PipelineInput>& inputs) {
  std::vector<nlohmann::json> res;
  for (auto& a : answer(inputs))
    res.push_back({{"score", a.score}, {"start", a.start}, {"end", a.end}, {"answer", a.answer}});
  return res;
}

}  // namespace kiln::pipelines
