// token-classification (NER): per-token labels, or words/entities grouped the way transformers'
// TokenClassificationPipeline does (aggregation none, simple, first, average, max; "O" dropped),
// with character offsets into the input text.
#include <algorithm>

#include "core/error.h"
#include "pipelines/generation/logits_processors.h"
#include "pipelines/tasks.h"
#include "pipelines/tensor_rows.h"

namespace kiln::pipelines {
namespace {

struct PreEntity {
  std::string word;
  std::vector<float> scores;
  int64_t index, start, end, id;
  bool is_subword;
};

int64_t argmax(const std::vector<float>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); }

// "B-PER" -> ("B", "PER"); a label without a prefix counts as "I".
std::pair<std::string, std::string> split_tag(const std::string& l) {
  if (l.rfind("B-", 0) == 0 || l.rfind("I-", 0) == 0) return {l.substr(0, 1), l.substr(2)};
  return {"I", l};
}

}  // namespace

TokenClassificationPipeline::TokenClassificationPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options)
    : EncoderTask("token-classification", std::move(dir), std::move(options)) {
  const std::string& a = options_.aggregation_strategy;
  KILN_CHECK(a == "none" || a == "simple" || a == "first" || a == "average" || a == "max", BadInput,
             "aggregation_strategy '{}' is not one of none, simple, first, average, max", a);
}

std::vector<std::vector<TokenEntity>> TokenClassificationPipeline::tag(const std::vector<PipelineInput>& inputs) {
  std::vector<Encoding> enc = encode_all(inputs);
  const ModelConfig& cfg = dir_->config();
  const std::string agg = options_.aggregation_strategy;
  std::vector<std::vector<TokenEntity>> out(inputs.size());
  for_chunks(enc, [&](std::span<const Encoding> chunk, const NamedTensors& outs, size_t first) {
    const Tensor& logits = output(outs, "logits", 3);
    const int64_t S = logits.dim(1), L = logits.dim(2);
    std::vector<float> all = as_floats(logits);
    for (size_t b = 0; b < chunk.size(); ++b) {
      const Encoding& e = chunk[b];
      const std::string& text = inputs[first + b].text;
      std::vector<PreEntity> pre;
      for (size_t t = 0; t < e.ids.size(); ++t) {
        if (!e.special_tokens_mask.empty() && e.special_tokens_mask[t]) continue;
        std::vector<float> s(all.begin() + (b * S + t) * L, all.begin() + (b * S + t + 1) * L);
        generation::softmax_inplace(s);
        PreEntity p{t < e.tokens.size() ? e.tokens[t] : std::to_string(e.ids[t]), s, (int64_t)t, 0, 0, e.ids[t], false};
        if (t < e.offsets.size()) {
          auto [bs, be] = e.offsets[t];
          p.start = char_offset(text, bs), p.end = char_offset(text, be);
          // WordPiece marks continuations with "##"; otherwise a token glued to the previous
          // character (no space before it) continues a word.
          if (p.word.rfind("##", 0) == 0) p.is_subword = true;
          else if (bs > 0 && bs <= text.size()) p.is_subword = !std::isspace((unsigned char)text[bs - 1]);
        }
        pre.push_back(std::move(p));
      }
      // Per token (none/simple) or per word (first/average/max): label and score.
      std::vector<TokenEntity> ents;
      std::vector<std::vector<int64_t>> ent_ids;
      if (agg == "none" || agg == "simple") {
        for (auto& p : pre) {
          int64_t k = argmax(p.scores);
          ents.push_back({cfg.label(k), p.scores[k], p.index, p.word, p.start, p.end});
          ent_ids.push_back({p.id});
        }
      } else {
        for (size_t i = 0; i < pre.size();) {
          size_t j = i + 1;
          while (j < pre.size() && pre[j].is_subword) ++j;
          std::vector<float> s;
          if (agg == "first") {
            s = pre[i].scores;
          } else if (agg == "max") {
            size_t best = i;
            for (size_t k = i; k < j; ++k)
              if (*std::max_element(pre[k].scores.begin(), pre[k].scores.end()) >
                  *std::max_element(pre[best].scores.begin(), pre[best].scores.end()))
                best = k;
            s = pre[best].scores;
          } else {
            s.assign(L, 0.0f);
            for (size_t k = i; k < j; ++k)
              for (int64_t l = 0; l < L; ++l) s[l] += pre[k].scores[l] / (float)(j - i);
          }
          int64_t k = argmax(s);
          std::vector<int64_t> ids;
          for (size_t m = i; m < j; ++m) ids.push_back(pre[m].id);
          std::string word = dir_->has_tokenizer() ? dir_->tokenizer().decode(ids) : pre[i].word;
          ents.push_back({cfg.label(k), s[k], -1, word, pre[i].start, pre[j - 1].end});
          ent_ids.push_back(ids);
          i = j;
        }
      }
      auto& res = out[first + b];
      if (agg == "none") {
        for (auto& en : ents)
          if (en.entity != "O") res.push_back(en);
        continue;
      }
      // Group neighbours with the same tag unless the next one begins a new entity (B-).
      for (size_t i = 0; i < ents.size();) {
        size_t j = i + 1;
        const std::string tag = split_tag(ents[i].entity).second;
        while (j < ents.size()) {
          auto [bi, t] = split_tag(ents[j].entity);
          if (t != tag || bi == "B") break;
          ++j;
        }
        TokenEntity g;
        const std::string& l = ents[i].entity;
        g.entity = l.substr(l.rfind('-') == std::string::npos ? 0 : l.rfind('-') + 1);
        float sum = 0;
        std::vector<int64_t> ids;
        for (size_t k = i; k < j; ++k) sum += ents[k].score, ids.insert(ids.end(), ent_ids[k].begin(), ent_ids[k].end());
        g.score = sum / (float)(j - i);
        g.word = dir_->has_tokenizer() ? dir_->tokenizer().decode(ids) : ents[i].word;
        g.start = ents[i].start, g.end = ents[j - 1].end;
        if (g.entity != "O") res.push_back(g);
        i = j;
      }
    }
  });
  return out;
}

std::vector<nlohmann::json> TokenClassificationPipeline::run(const std::vector<PipelineInput>& inputs) {
  const bool grouped = options_.aggregation_strategy != "none";
  std::vector<nlohmann::json> res;
  for (auto& ents : tag(inputs)) {
    nlohmann::json l = nlohmann::json::array();
    for (auto& e : ents) {
      nlohmann::json j = {{grouped ? "entity_group" : "entity", e.entity}, {"score", e.score}, {"word", e.word},
                          {"start", e.start}, {"end", e.end}};
      if (!grouped) j["index"] = e.index;
      l.push_back(j);
    }
    res.push_back({{"entities", l}});
  }
  return res;
}

}  // namespace kiln::pipelines
