// Recurrent layers: RNN, GRU and LSTM (ONNX semantics: gate orders RNN [i], GRU [z r h],
// LSTM [i o f c]; forward / reverse / bidirectional; optional bias, sequence_lens, initial
// states, LSTM peepholes; clip; custom activations; layout 0 [seq, batch, ...] or 1 [batch,
// seq, ...]). Straightforward loops in float: these layers are small in the models that keep them.
#include <cmath>
#include <functional>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Cell { Rnn, Gru, Lstm };

using Act = std::function<float(float)>;

Act make_activation(const std::string& name, float alpha, float beta, bool has_alpha, bool has_beta, const Node& n) {
  auto a = [&](float d) { return has_alpha ? alpha : d; };
  auto b = [&](float d) { return has_beta ? beta : d; };
  if (name == "Tanh") return [](float x) { return std::tanh(x); };
  if (name == "Sigmoid") return [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
  if (name == "Relu") return [](float x) { return x > 0 ? x : 0.0f; };
  if (name == "Softsign") return [](float x) { return x / (1 + std::fabs(x)); };
  if (name == "Softplus") return [](float x) { return std::log1p(std::exp(x)); };
  if (name == "Affine") { float al = a(1), be = b(0); return [al, be](float x) { return al * x + be; }; }
  if (name == "LeakyRelu") { float al = a(0.01f); return [al](float x) { return x < 0 ? al * x : x; }; }
  if (name == "ThresholdedRelu") { float al = a(1); return [al](float x) { return x > al ? x : 0.0f; }; }
  if (name == "ScaledTanh") { float al = a(1), be = b(1); return [al, be](float x) { return al * std::tanh(be * x); }; }
  if (name == "HardSigmoid") {
    float al = a(0.2f), be = b(0.5f);
    return [al, be](float x) { return std::max(0.0f, std::min(1.0f, al * x + be)); };
  }
  if (name == "Elu") { float al = a(1); return [al](float x) { return x < 0 ? al * std::expm1(x) : x; }; }
  throw Unsupported(fmt::format("{}: activation '{}' is not supported", n.label(), name));
}

// Activations that take alpha / beta consume them from the lists in order.
bool takes_alpha(const std::string& s) {
  return s == "Affine" || s == "LeakyRelu" || s == "ThresholdedRelu" || s == "ScaledTanh" || s == "HardSigmoid" ||
         s == "Elu";
}
bool takes_beta(const std::string& s) { return s == "Affine" || s == "ScaledTanh" || s == "HardSigmoid"; }

class RnnKernel : public OpKernel {
 public:
  RnnKernel(const KernelInfo& info, Cell cell) : cell_(cell) {
    const Node& n = info.node;
    hidden_ = n.attr_int("hidden_size", 0);
    KILN_CHECK(hidden_ > 0, BadModel, "{}: hidden_size must be positive", n.label());
    std::string dir = n.attr_string("direction", "forward");
    KILN_CHECK(dir == "forward" || dir == "reverse" || dir == "bidirectional", BadModel,
               "{}: direction must be forward, reverse or bidirectional", n.label());
    reverse_ = dir == "reverse";
    dirs_ = dir == "bidirectional" ? 2 : 1;
    layout_ = n.attr_int("layout", 0);
    clip_ = n.has_attr("clip") ? n.attr_float("clip", 0) : 0;
    linear_before_reset_ = n.attr_int("linear_before_reset", 0) != 0;
    input_forget_ = n.attr_int("input_forget", 0) != 0;
    gates_ = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4;
    const size_t per_dir = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 2 : 3;
    std::vector<std::string> names;
    if (const Attribute* a = n.attr("activations")) names = a->strings;
    if (names.empty()) {
      std::vector<std::string> dflt = cell == Cell::Rnn   ? std::vector<std::string>{"Tanh"}
                                      : cell == Cell::Gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                          : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
      for (int d = 0; d < dirs_; ++d) names.insert(names.end(), dflt.begin(), dflt.end());
    }
    KILN_CHECK(names.size() == per_dir * dirs_, BadModel, "{}: needs {} activations, has {}", n.label(),
               per_dir * dirs_, names.size());
    std::vector<float> alphas = n.attr_floats("activation_alpha"), betas = n.attr_floats("activation_beta");
    size_t ai = 0, bi = 0;
    for (const auto& name : names) {
      bool ha = takes_alpha(name) && ai < alphas.size(), hb = takes_beta(name) && bi < betas.size();
      acts_.push_back(make_activation(name, ha ? alphas[ai] : 0, hb ? betas[bi] : 0, ha, hb, n));
      if (ha) ++ai;
      if (hb) ++bi;
    }
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    Tensor x = ctx.input(0).cast(DType::F32);
    KILN_CHECK(x.rank() == 3, BadInput, "{}: X must have rank 3, got {}", node.label(), shape_str(x.shape()));
    const int64_t S = layout_ ? x.dim(1) : x.dim(0), B = layout_ ? x.dim(0) : x.dim(1), I = x.dim(2);
    const int64_t H = hidden_, G = gates_;
    Tensor w = ctx.input(1).cast(DType::F32), r = ctx.input(2).cast(DType::F32);
    KILN_CHECK(w.shape() == (Shape{dirs_, G * H, I}) && r.shape() == (Shape{dirs_, G * H, H}), BadInput,
               "{}: W {} / R {} do not fit {} directions, {} gates, hidden {} and input {}", node.label(),
               shape_str(w.shape()), shape_str(r.shape()), dirs_, G, H, I);
    auto opt = [&](size_t i, Shape want, const char* what) -> Tensor {
      const Tensor* t = ctx.input_or_null(i);
      if (!t) return Tensor();
      Tensor f = t->cast(DType::F32);
      KILN_CHECK(f.shape() == want, BadInput, "{}: {} has shape {}, expected {}", node.label(), what,
                 shape_str(f.shape()), shape_str(want));
      return f;
    };
    Tensor bias = opt(3, {dirs_, 2 * G * H}, "B");
    std::vector<int64_t> lens(B, S);
    if (const Tensor* sl = ctx.input_or_null(4)) {
      KILN_CHECK(sl->numel() == B, BadInput, "{}: sequence_lens must have {} values", node.label(), B);
      for (int64_t b = 0; b < B; ++b) {
        lens[b] = sl->item_i64(b);
        KILN_CHECK(lens[b] >= 0 && lens[b] <= S, BadInput, "{}: sequence length {} is outside [0, {}]",
                   node.label(), lens[b], S);
      }
    }
    Shape state_shape = layout_ ? Shape{B, dirs_, H} : Shape{dirs_, B, H};
    Tensor h0 = opt(5, state_shape, "initial_h");
    Tensor c0 = cell_ == Cell::Lstm ? opt(6, state_shape, "initial_c") : Tensor();
    Tensor peep = cell_ == Cell::Lstm ? opt(7, {dirs_, 3 * H}, "P") : Tensor();

    Shape yshape = layout_ ? Shape{B, S, dirs_, H} : Shape{S, dirs_, B, H};
    Tensor y = Tensor::zeros(DType::F32, yshape);
    Tensor yh = Tensor::zeros(DType::F32, state_shape), yc = Tensor::zeros(DType::F32, state_shape);
    auto xat = [&](int64_t t, int64_t b) { return x.data<float>() + (layout_ ? (b * S + t) : (t * B + b)) * I; };
    auto yat = [&](int64_t t, int64_t d, int64_t b) {
      return y.data<float>() + (layout_ ? ((b * S + t) * dirs_ + d) : ((t * dirs_ + d) * B + b)) * H;
    };
    auto sat = [&](Tensor& s, int64_t d, int64_t b) { return s.data<float>() + (layout_ ? (b * dirs_ + d) : (d * B + b)) * H; };

    std::vector<float> h(H), c(H), gx(G * H), gh(G * H), tmp(H), z(H), rg(H);  // z, rg: GRU gates
    for (int64_t d = 0; d < dirs_; ++d) {
      const bool rev = reverse_ || d == 1;
      const float* W = w.data<float>() + d * G * H * I;
      const float* R = r.data<float>() + d * G * H * H;
      const float* Wb = bias.defined() ? bias.data<float>() + d * 2 * G * H : nullptr;
      const float* Rb = Wb ? Wb + G * H : nullptr;
      const float* P = peep.defined() ? peep.data<float>() + d * 3 * H : nullptr;
      const Act* act = &acts_[d * (cell_ == Cell::Rnn ? 1 : cell_ == Cell::Gru ? 2 : 3)];
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t k = 0; k < H; ++k) {
          h[k] = h0.defined() ? sat(h0, d, b)[k] : 0.0f;
          c[k] = c0.defined() ? sat(c0, d, b)[k] : 0.0f;
        }
        for (int64_t step = 0; step < lens[b]; ++step) {
          const int64_t t = rev ? lens[b] - 1 - step : step;
          const float* xt = xat(t, b);
          // gx = W xt + Wb, gh = R h + Rb for every gate row
          for (int64_t g = 0; g < G * H; ++g) {
            float sx = Wb ? Wb[g] : 0.0f, sh = Rb ? Rb[g] : 0.0f;
            for (int64_t i = 0; i < I; ++i) sx += W[g * I + i] * xt[i];
            for (int64_t i = 0; i < H; ++i) sh += R[g * H + i] * h[i];
            gx[g] = sx;
            gh[g] = sh;
          }
          auto clip = [&](float v) { return clip_ > 0 ? std::max(-clip_, std::min(clip_, v)) : v; };
          if (cell_ == Cell::Rnn) {
            for (int64_t k = 0; k < H; ++k) h[k] = act[0](clip(gx[k] + gh[k]));
          } else if (cell_ == Cell::Gru) {
            // gates z, r, h; the reset gate applies before R_h unless linear_before_reset
            for (int64_t k = 0; k < H; ++k) {
              z[k] = act[0](clip(gx[k] + gh[k]));
              rg[k] = act[0](clip(gx[H + k] + gh[H + k]));
            }
            for (int64_t k = 0; k < H; ++k) {
              float pre;
              if (linear_before_reset_) {
                pre = gx[2 * H + k] + rg[k] * gh[2 * H + k];
              } else {
                float s = Rb ? Rb[2 * H + k] : 0.0f;
                for (int64_t i = 0; i < H; ++i) s += R[(2 * H + k) * H + i] * rg[i] * h[i];
                pre = gx[2 * H + k] + s;
              }
              tmp[k] = (1 - z[k]) * act[1](clip(pre)) + z[k] * h[k];
            }
            h = tmp;
          } else {
            // gates i, o, f, c
            for (int64_t k = 0; k < H; ++k) {
              float ig = gx[k] + gh[k] + (P ? P[k] * c[k] : 0.0f);
              float fg = gx[2 * H + k] + gh[2 * H + k] + (P ? P[2 * H + k] * c[k] : 0.0f);
              float i_ = act[0](clip(ig)), f_ = act[0](clip(fg));
              if (input_forget_) i_ = 1 - f_;
              float cc = act[1](clip(gx[3 * H + k] + gh[3 * H + k]));
              float cn = f_ * c[k] + i_ * cc;
              float og = gx[H + k] + gh[H + k] + (P ? P[H + k] * cn : 0.0f);
              float o_ = act[0](clip(og));
              c[k] = cn;
              tmp[k] = o_ * act[2](cn);
            }
            h = tmp;
          }
          std::copy(h.begin(), h.end(), yat(t, d, b));
        }
        std::copy(h.begin(), h.end(), sat(yh, d, b));
        std::copy(c.begin(), c.end(), sat(yc, d, b));
      }
    }
    DType out = ctx.input(0).dtype();
    auto put = [&](size_t i, const Tensor& t) {
      if (i < ctx.num_outputs() && ctx.output_wanted(i)) ctx.set_output(i, out == DType::F32 ? t : t.cast(out));
    };
    put(0, y);
    put(1, yh);
    if (cell_ == Cell::Lstm) put(2, yc);
  }

 private:
  Cell cell_;
  int64_t hidden_ = 0, dirs_ = 1, layout_ = 0, gates_ = 1;
  bool reverse_ = false, linear_before_reset_ = false, input_forget_ = false;
  float clip_ = 0;
  std::vector<Act> acts_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_rnn_kernels) {
  auto reg = [&](const char* op, Cell c) {
    r.add({DeviceType::Cpu, "", op, 1, kMaxOpset},
          [c](const KernelInfo& info) { return std::make_unique<RnnKernel>(info, c); });
  };
  reg("RNN", Cell::Rnn);
  reg("GRU", Cell::Gru);
  reg("LSTM", Cell::Lstm);
}

}  // namespace kiln::cpu
