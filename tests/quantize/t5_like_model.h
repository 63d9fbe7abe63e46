// A folder shaped like Optimum's t5-small export, built with the IR: encoder_model.onnx,
// decoder_model.onnx, decoder_with_past_model.onnx with t5-small's weight shapes and sharing
// (one embedding table in all three graphs; every decoder weight repeated in decoder_with_past,
// which lacks only the cross-attention K/V projections; lm_head as a separate transposed table).
// The computation is simplified (single-head attention, scale-only norms, no relative position
// bias) but every weight is read by the same kind of op as in T5: Gather, MatMul. Random weights.
#pragma once
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "graph/onnx_io.h"
#include "quant_test_util.h"

namespace kiln::qtest {

struct T5Dims {
  int64_t d_model = 512, d_ff = 2048, layers = 6, vocab = 32128;
};

inline Tensor fast_random(Shape shape, uint64_t seed, float amp) {
  Tensor t(DType::F32, shape);
  float* p = t.data<float>();
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    p[i] = amp * ((float)(s >> 40) / (float)(1ull << 24) * 2.0f - 1.0f);
  }
  return t;
}

class T5LikeBuilder {
 public:
  explicit T5LikeBuilder(T5Dims d) : d_(d) {
    float a = 0.5f / std::sqrt((float)d.d_model);
    uint64_t seed = 1;
    shared_ = fast_random({d.vocab, d.d_model}, seed++, 1.0f);
    lm_head_ = fast_random({d.d_model, d.vocab}, seed++, a);
    for (int64_t l = 0; l < d.layers; ++l) {
      Layer e, x;
      for (auto* w : {&e.q, &e.k, &e.v, &e.o, &x.q, &x.k, &x.v, &x.o, &x.cq, &x.ck, &x.cv, &x.co})
        *w = fast_random({d.d_model, d.d_model}, seed++, a);
      e.wi = fast_random({d.d_model, d.d_ff}, seed++, a);
      x.wi = fast_random({d.d_model, d.d_ff}, seed++, a);
      e.wo = fast_random({d.d_ff, d.d_model}, seed++, 0.5f / std::sqrt((float)d.d_ff));
      x.wo = fast_random({d.d_ff, d.d_model}, seed++, 0.5f / std::sqrt((float)d.d_ff));
      std::vector<float> ones((size_t)d.d_model, 1.0f);
      e.ln1 = e.ln2 = x.ln1 = x.ln2 = x.ln3 = Tensor::from_vector<float>({d.d_model}, ones);
      enc_.push_back(e);
      dec_.push_back(x);
    }
  }

  Model encoder() {
    Model m = start();
    Graph& g = m.graph;
    g.inputs = {value("input_ids", DType::I64, {-1, -1}), value("attention_mask", DType::I64, {-1, -1})};
    g.initializers["shared.weight"] = shared_;
    std::string h = op(g, "Gather", {"shared.weight", "input_ids"});
    for (int64_t l = 0; l < d_.layers; ++l) {
      auto& L = enc_[l];
      std::string p = "encoder.block." + std::to_string(l) + ".";
      std::string n = op(g, "Mul", {h, w(g, p + "ln1", L.ln1)});
      auto [a, k, v] = attention(g, n, n, w(g, p + "q", L.q), w(g, p + "k", L.k), w(g, p + "v", L.v), "", "");
      h = op(g, "Add", {h, op(g, "MatMul", {a, w(g, p + "o", L.o)})});
      h = ffn(g, h, w(g, p + "ln2", L.ln2), w(g, p + "wi", L.wi), w(g, p + "wo", L.wo));
    }
    g.nodes.push_back(node("Identity", {h}, {"last_hidden_state"}, "out"));
    g.outputs = {value("last_hidden_state", DType::F32, {-1, -1, d_.d_model})};
    return m;
  }

  // with_past: new token(s) only; self-attention K/V concatenated to the past, cross-attention
  // K/V taken from the past (so the cross K/V projections are not in this graph).
  Model decoder(bool with_past) {
    Model m = start();
    Graph& g = m.graph;
    g.inputs = {value("input_ids", DType::I64, {-1, -1}), value("encoder_attention_mask", DType::I64, {-1, -1}),
                value("encoder_hidden_states", DType::F32, {-1, -1, d_.d_model})};
    g.initializers["shared.weight"] = shared_;
    std::string h = op(g, "Gather", {"shared.weight", "input_ids"});
    for (int64_t l = 0; l < d_.layers; ++l) {
      auto& L = dec_[l];
      std::string p = "decoder.block." + std::to_string(l) + ".", s = std::to_string(l);
      std::string past_k, past_v, past_ck, past_cv;
      if (with_past) {
        past_k = "past_key_values." + s + ".decoder.key";
        past_v = "past_key_values." + s + ".decoder.value";
        past_ck = "past_key_values." + s + ".encoder.key";
        past_cv = "past_key_values." + s + ".encoder.value";
        for (auto* n : {&past_k, &past_v, &past_ck, &past_cv}) g.inputs.push_back(value(*n, DType::F32, {-1, -1, d_.d_model}));
      }
      std::string n = op(g, "Mul", {h, w(g, p + "ln1", L.ln1)});
      auto [a, k, v] = attention(g, n, n, w(g, p + "q", L.q), w(g, p + "k", L.k), w(g, p + "v", L.v), past_k, past_v);
      present(g, k, "present." + s + ".decoder.key");
      present(g, v, "present." + s + ".decoder.value");
      h = op(g, "Add", {h, op(g, "MatMul", {a, w(g, p + "o", L.o)})});
      n = op(g, "Mul", {h, w(g, p + "ln2", L.ln2)});
      std::string ca;
      if (with_past) {
        ca = attend(g, op(g, "MatMul", {n, w(g, p + "cq", L.cq)}), past_ck, past_cv);
      } else {
        std::string ck = op(g, "MatMul", {"encoder_hidden_states", w(g, p + "ck", L.ck)});
        std::string cv = op(g, "MatMul", {"encoder_hidden_states", w(g, p + "cv", L.cv)});
        present(g, ck, "present." + s + ".encoder.key");
        present(g, cv, "present." + s + ".encoder.value");
        ca = attend(g, op(g, "MatMul", {n, w(g, p + "cq", L.cq)}), ck, cv);
      }
      h = op(g, "Add", {h, op(g, "MatMul", {ca, w(g, p + "co", L.co)})});
      h = ffn(g, h, w(g, p + "ln3", L.ln3), w(g, p + "wi", L.wi), w(g, p + "wo", L.wo));
    }
    g.initializers["lm_head"] = lm_head_;
    g.nodes.push_back(node("MatMul", {h, "lm_head"}, {"logits"}, "lm_head_matmul"));
    g.outputs.insert(g.outputs.begin(), value("logits", DType::F32, {-1, -1, d_.vocab}));
    return m;
  }

  void write_folder(const std::string& dir) {
    save_model(encoder(), dir + "/encoder_model.onnx");
    save_model(decoder(false), dir + "/decoder_model.onnx");
    save_model(decoder(true), dir + "/decoder_with_past_model.onnx");
  }

 private:
  struct Layer {
    Tensor q, k, v, o, cq, ck, cv, co, wi, wo, ln1, ln2, ln3;
  };
  Model start() {
    Model m;
    m.opsets = {{"", 13}};
    counter_ = 0;
    return m;
  }
  std::string op(Graph& g, const std::string& type, std::vector<std::string> in, const std::string& out = "") {
    std::string o = out.empty() ? type + "_" + std::to_string(counter_++) : out;
    g.nodes.push_back(node(type, std::move(in), {o}, "n" + std::to_string(counter_++)));
    return o;
  }
  std::string w(Graph& g, const std::string& name, const Tensor& t) {
    g.initializers[name] = t;
    return name;
  }
  void present(Graph& g, const std::string& v, const std::string& name) {
    g.nodes.push_back(node("Identity", {v}, {name}, "n" + std::to_string(counter_++)));
    g.outputs.push_back(value(name, DType::F32, {-1, -1, d_.d_model}));
  }
  std::string attend(Graph& g, const std::string& q, const std::string& k, const std::string& v) {
    Node t = node("Transpose", {k}, {"kt_" + std::to_string(counter_++)}, "n" + std::to_string(counter_++));
    Attribute perm;
    perm.kind = Attribute::Kind::Ints;
    perm.ints = {0, 2, 1};
    t.attributes["perm"] = perm;
    g.nodes.push_back(t);
    std::string sc = op(g, "MatMul", {q, t.outputs[0]});
    std::string p = op(g, "Softmax", {sc});
    return op(g, "MatMul", {p, v});
  }
  std::tuple<std::string, std::string, std::string> attention(Graph& g, const std::string& xq, const std::string& xkv,
                                                               const std::string& wq, const std::string& wk,
                                                               const std::string& wv, const std::string& past_k,
                                                               const std::string& past_v) {
    std::string q = op(g, "MatMul", {xq, wq}), k = op(g, "MatMul", {xkv, wk}), v = op(g, "MatMul", {xkv, wv});
    if (!past_k.empty()) {
      Attribute ax;
      ax.kind = Attribute::Kind::Int;
      ax.i = 1;
      Node ck = node("Concat", {past_k, k}, {"cat_" + std::to_string(counter_++)}, "n" + std::to_string(counter_++));
      ck.attributes["axis"] = ax;
      Node cv = node("Concat", {past_v, v}, {"cat_" + std::to_string(counter_++)}, "n" + std::to_string(counter_++));
      cv.attributes["axis"] = ax;
      g.nodes.push_back(ck);
      g.nodes.push_back(cv);
      k = ck.outputs[0];
      v = cv.outputs[0];
    }
    return {attend(g, q, k, v), k, v};
  }
  std::string ffn(Graph& g, const std::string& h, const std::string& ln, const std::string& wi, const std::string& wo) {
    std::string n = op(g, "Mul", {h, ln});
    std::string r = op(g, "Relu", {op(g, "MatMul", {n, wi})});
    return op(g, "Add", {h, op(g, "MatMul", {r, wo})});
  }

  T5Dims d_;
  Tensor shared_, lm_head_;
  std::vector<Layer> enc_, dec_;
  int counter_ = 0;
};

}  // namespace kiln::qtest
