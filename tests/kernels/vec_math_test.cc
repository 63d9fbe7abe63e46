// The vectorised float32 math (exp, tanh, erf, sigmoid, GELU, softmax) of every instruction set
// this CPU supports, checked against the C library's double-precision functions on a dense grid.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels/cpu/vec_math.h"

namespace kiln::cpu {
namespace {

std::vector<Isa> supported_isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isa_supported(i)) v.push_back(i);
  return v;
}

std::vector<float> grid(float lo, float hi, int n) {
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = lo + (hi - lo) * (float)i / (float)(n - 1);
  return x;
}

// Max error of fn against ref over xs: |got - want| <= abs_tol + rel_tol * |want| must hold.
void check(const char* name, void (*fn)(const float*, float*, int64_t, Isa), const std::function<double(double)>& ref,
           const std::vector<float>& xs, double rel_tol, double abs_tol) {
  for (Isa isa : supported_isas()) {
    std::vector<float> y(xs.size());
    fn(xs.data(), y.data(), (int64_t)xs.size(), isa);
    for (size_t i = 0; i < xs.size(); ++i) {
      double want = ref(xs[i]);
      ASSERT_LE(std::fabs(y[i] - want), abs_tol + rel_tol * std::fabs(want))
          << name << " (" << isa_name(isa) << ") at x = " << xs[i] << ": " << y[i] << " vs " << want;
    }
  }
}

TEST(VecMath, Exp) {
  check("exp", vec::exp, [](double x) { return std::exp(x); }, grid(-87, 88, 200001), 3e-7, 0);
  check("exp", vec::exp, [](double x) { return std::exp(x); }, grid(-1e-3f, 1e-3f, 2001), 2e-7, 0);
}

TEST(VecMath, ExpEdges) {
  float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x{-inf, -1000, 1000, inf, NAN};
  for (Isa isa : supported_isas()) {
    std::vector<float> y(x.size());
    vec::exp(x.data(), y.data(), (int64_t)x.size(), isa);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[2], inf);
    EXPECT_EQ(y[3], inf);
    EXPECT_TRUE(std::isnan(y[4]));
  }
}

TEST(VecMath, Tanh) {
  check("tanh", vec::tanh, [](double x) { return std::tanh(x); }, grid(-12, 12, 200001), 1e-6, 3e-7);
  check("tanh", vec::tanh, [](double x) { return std::tanh(x); }, grid(-1e-3f, 1e-3f, 2001), 1e-6, 0);
}

TEST(VecMath, Erf) {
  check("erf", vec::erf, [](double x) { return std::erf(x); }, grid(-6, 6, 200001), 0, 4e-7);
  check("erf", vec::erf, [](double x) { return std::erf(x); }, grid(-1e-3f, 1e-3f, 2001), 1e-6, 0);
}

TEST(VecMath, SigmoidAndGelu) {
  check("sigmoid", vec::sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, grid(-80, 80, 100001), 1e-6, 0);
  check("gelu_erf", vec::gelu_erf, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); },
        grid(-10, 10, 100001), 1e-6, 1e-6);
  check("gelu_tanh", vec::gelu_tanh,
        [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); },
        grid(-10, 10, 100001), 1e-6, 1e-6);
}

// GELU at the edges of the AVX-512 table's 32 intervals of [-6, 6] (each edge, one float either
// side), where a wrong interval would show; far outside; the infinities and NaN (GELU(-inf) = -inf x 0
// is NaN, as the formula gives); bias_gelu_erf as gelu_erf of the sum; and lengths off the vectors.
TEST(VecMath, GeluIntervalEdgesAndSpecialValues) {
  std::vector<float> xs;
  for (int k = 0; k <= 32; ++k) {
    const float edge = -6.0f + 0.375f * (float)k;
    xs.insert(xs.end(), {std::nextafter(edge, -1e9f), edge, std::nextafter(edge, 1e9f)});
  }
  xs.insert(xs.end(), {-1e30f, -100.f, -20.f, -6.5f, 6.5f, 20.f, 1e30f, 0.f, -0.f, 1e-30f, -1e-30f});
  check("gelu_erf", vec::gelu_erf, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, xs, 1e-6,
        1e-6);
  const float inf = std::numeric_limits<float>::infinity();
  for (Isa isa : supported_isas()) {
    std::vector<float> x{-inf, inf, NAN, 1.f}, y(4);
    vec::gelu_erf(x.data(), y.data(), 4, isa);
    EXPECT_TRUE(std::isnan(y[0])) << isa_name(isa) << ": " << y[0];
    EXPECT_EQ(y[1], inf) << isa_name(isa);
    EXPECT_TRUE(std::isnan(y[2])) << isa_name(isa);
    for (int64_t n : {1, 15, 16, 17, 33}) {
      std::vector<float> a(n), b(n), sum(n), want(n), got(n);
      for (int64_t i = 0; i < n; ++i) {
        a[i] = -7.f + 0.43f * (float)i;
        b[i] = 0.25f - 0.01f * (float)i;
        sum[i] = a[i] + b[i];
      }
      vec::gelu_erf(sum.data(), want.data(), n, isa);
      vec::bias_gelu_erf(a.data(), b.data(), got.data(), n, isa);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << isa_name(isa) << " n " << n << " at " << i;
    }
  }
}

TEST(VecMath, SoftmaxRow) {
  std::vector<float> x = grid(-30, 50, 1001);
  x.push_back(-std::numeric_limits<float>::infinity());  // a masked position gets exactly 0
  double m = 50, s = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) s += std::exp((double)x[i] - m);
  for (Isa isa : supported_isas()) {
    std::vector<float> y(x.size());
    vec::softmax(x.data(), y.data(), (int64_t)x.size(), isa);
    for (size_t i = 0; i + 1 < x.size(); ++i) {
      double want = std::exp((double)x[i] - m) / s;
      ASSERT_LE(std::fabs(y[i] - want), 5e-6 * want + 1e-30) << isa_name(isa) << " at " << i;
    }
    EXPECT_EQ(y.back(), 0.0f);
  }
}

// The AVX-512 softmax keeps rows of up to 256 values in registers (one read, one write); longer rows
// take the loops. It must give bitwise what the loops give: a row padded with -inf past 256 values
// takes the loops and the same values (the padding adds exact zeros to each lane's sum, in the same
// lane order), so each row is compared with its padded copy.
TEST(VecMath, SoftmaxInRegistersBitwiseAsTheLoops) {
  if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "needs AVX-512";
  std::mt19937 g(11);
  std::normal_distribution<float> d(0.f, 4.f);
  std::uniform_int_distribution<int> pick(0, 40);
  const float inf = std::numeric_limits<float>::infinity();
  int rows = 0;
  for (int64_t n = 1; n <= 256; n += (n < 40 ? 1 : 7))
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> x(272 + 16, -inf);
      for (int64_t i = 0; i < n; ++i) {
        int c = pick(g);
        x[i] = c == 0 ? -inf : c == 1 ? -3.4028235e38f : c == 2 ? d(g) * 30.f : d(g) + (rep % 3) * 40.f;
      }
      if (rep == 0) std::fill(x.begin(), x.begin() + n, -3.4028235e38f);  // a row masked everywhere
      std::vector<float> a((size_t)n), b(x.size());
      vec::softmax(x.data(), a.data(), n, Isa::Avx512);
      vec::softmax(x.data(), b.data(), (int64_t)x.size(), Isa::Avx512);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(std::memcmp(&a[i], &b[i], 4), 0) << "n " << n << " rep " << rep << " at " << i << ": " << a[i]
                                                   << " vs " << b[i];
      ++rows;
    }
  EXPECT_GT(rows, 1000);
}

// softmax_rows (two rows at a time in registers on AVX-512, up to 128 values) gives bitwise what
// softmax gives row by row, on every ISA: odd and even row counts, lengths on and off the vectors and
// past 128, rows with -inf, the float minimum (a padding mask's fill) and large values, rows masked
// everywhere, and a leading dimension wider than the rows (which it leaves alone).
TEST(VecMath, SoftmaxRowsBitwiseAsOneByOne) {
  std::mt19937 g(17);
  std::normal_distribution<float> d(0.f, 4.f);
  std::uniform_int_distribution<int> pick(0, 40);
  const float inf = std::numeric_limits<float>::infinity();
  for (Isa isa : supported_isas())
    for (int64_t n : {1, 7, 16, 17, 64, 100, 127, 128, 129, 200})
      for (int64_t rows : {1, 2, 3, 5, 12}) {
        const int64_t ld = n + 3;
        std::vector<float> x((size_t)(rows * ld));
        for (size_t i = 0; i < x.size(); ++i) {
          const int c = pick(g);
          x[i] = c == 0 ? -inf : c == 1 ? -3.4028235e38f : c == 2 ? d(g) * 30.f : d(g) + (int)(i % 3) * 40.f;
        }
        if (rows > 2) std::fill(x.begin() + 2 * ld, x.begin() + 2 * ld + n, -3.4028235e38f);
        std::vector<float> want = x, got = x;
        for (int64_t r = 0; r < rows; ++r) vec::softmax(want.data() + r * ld, want.data() + r * ld, n, isa);
        vec::softmax_rows(got.data(), rows, n, ld, isa);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), x.size() * 4), 0)
            << isa_name(isa) << " n " << n << " rows " << rows;
      }
}

// layer_norm_rows gives bitwise what layer_norm gives row by row, on every ISA: row counts around
// the groups of four, lengths on and off the 16-lane vectors, rows of one value (deviation 0), with
// and without bias, the statistics too.
TEST(VecMath, LayerNormRowsBitwiseAsOneByOne) {
  std::mt19937 g(13);
  std::normal_distribution<float> d(0.f, 2.f);
  for (Isa isa : supported_isas())
    for (int64_t n : {16, 17, 64, 768, 770})
      for (int64_t rows : {1, 3, 4, 5, 9})
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
          std::vector<float> x(rows * n), scale(n), bias(n);
          for (auto& v : x) v = d(g) + 3.f;
          for (auto& v : scale) v = d(g);
          for (auto& v : bias) v = d(g);
          if (rows > 2) std::fill(x.begin() + n, x.begin() + 2 * n, 1.5f);  // deviation 0
          std::vector<float> ya(rows * n), yb(rows * n), ma(rows), mb(rows), ia(rows), ib(rows);
          const float* pb = with_bias ? bias.data() : nullptr;
          vec::layer_norm_rows(x.data(), ya.data(), rows, n, scale.data(), pb, 1e-5f, ma.data(), ia.data(), isa);
          for (int64_t r = 0; r < rows; ++r)
            vec::layer_norm(x.data() + r * n, yb.data() + r * n, n, scale.data(), pb, 1e-5f, &mb[r], &ib[r], isa);
          const std::string what = std::string(isa_name(isa)) + " n " + std::to_string(n) + " rows " +
                                   std::to_string(rows) + " bias " + std::to_string(with_bias);
          EXPECT_EQ(std::memcmp(ya.data(), yb.data(), ya.size() * 4), 0) << what;
          EXPECT_EQ(std::memcmp(ma.data(), mb.data(), ma.size() * 4), 0) << what;
          EXPECT_EQ(std::memcmp(ia.data(), ib.data(), ia.size() * 4), 0) << what;
        }
}

TEST(VecMath, RmsNormWithinTwoUlpsOfFloat64OnEveryIsa) {
  std::mt19937 g(29);
  std::normal_distribution<float> d(0.f, 2.f);
  for (Isa isa : supported_isas())
    for (int64_t n : {1, 15, 16, 17, 512, 770}) {
      std::vector<float> x(n), w(n), y(n);
      for (auto& v : x) v = d(g);
      for (auto& v : w) v = d(g);
      const float inv = vec::rms_norm(x.data(), y.data(), n, w.data(), 1e-6f, isa);
      double ss = 0;
      for (float v : x) ss += (double)v * v;
      const double root = std::sqrt(ss / (double)n + 1e-6);
      EXPECT_NEAR(inv, 1.0 / root, 2.4e-7 / root) << isa_name(isa) << " n " << n;
      for (int64_t i = 0; i < n; ++i) {
        const double want = (double)x[i] / root * w[i];
        ASSERT_NEAR(y[i], want, 2.4e-7 * std::fabs(want) + 1e-30) << isa_name(isa) << " n " << n << " at " << i;
      }
    }
}

TEST(VecMath, ArithAllStepsAndOps) {
  std::vector<float> a = grid(-3, 5, 37), b = grid(0.5f, 9, 37);
  for (Isa isa : supported_isas())
    for (int op = 0; op < 4; ++op)
      for (int sa = 0; sa < 2; ++sa)
        for (int sb = 0; sb < 2; ++sb) {
          std::vector<float> o(a.size());
          vec::arith(op, a.data(), sa, b.data(), sb, o.data(), (int64_t)o.size(), isa);
          for (size_t i = 0; i < o.size(); ++i) {
            float x = a[sa ? i : 0], y = b[sb ? i : 0];
            float want = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
            ASSERT_EQ(o[i], want) << isa_name(isa) << " op " << op << " steps " << sa << sb << " at " << i;
          }
        }
}

// Layer norm divides by the deviation (int8 models amplify a last-bit difference); the FMA variants
// compute the quotient as a product corrected by its exact remainder, which must be the division's
// value. Rows of small integers with a power-of-two length and an integer mean, so the mean and
// variance are exact in any summation order; each output must then be (x - mean) / sd, divided, times scale plus bias (one FMA,
// or a product and a sum where the variant does not contract them).
TEST(VecMath, LayerNormDividesExactly) {
  std::mt19937 g(11);
  std::uniform_int_distribution<int> u(-100, 100);
  std::normal_distribution<float> d(0.f, 1.f);
  for (Isa isa : supported_isas())
    for (int64_t n : {16, 64, 1024})
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<float> x(n), scale(n), bias(n), y(n);
        // Pairs of opposite integers: the mean is 0 and every sum exact.
        for (int64_t i = 0; i < n / 2; ++i) {
          x[i] = (float)u(g);
          x[n / 2 + i] = -x[i];
        }
        for (int64_t i = 0; i < n; ++i) {
          x[i] += (float)(trial % 5);  // and a mean that is not 0
          scale[i] = d(g);
          bias[i] = d(g);
        }
        const bool with_bias = trial % 3 != 0;
        float mean, inv;
        vec::layer_norm(x.data(), y.data(), n, scale.data(), with_bias ? bias.data() : nullptr, 1e-5f, &mean, &inv,
                        isa);
        double s = 0, v = 0;
        for (float xv : x) s += xv;
        const float m = (float)(s / (double)n);
        ASSERT_EQ(mean, m);
        for (float xv : x) v += ((double)xv - m) * ((double)xv - m);
        const float sd = std::sqrt((float)(v / (double)n) + 1e-5f);
        for (int64_t i = 0; i < n; ++i) {
          volatile float q = (x[i] - m) / sd;
          const float b = with_bias ? bias[i] : 0.f;
          volatile float prod = q * scale[i];
          const float fused = with_bias ? std::fma((float)q, scale[i], b) : (float)prod;
          const float apart = prod + b;
          ASSERT_TRUE(y[i] == fused || y[i] == apart)
              << isa_name(isa) << " n=" << n << " i=" << i << ": " << y[i] << " vs " << fused << " / " << apart;
        }
      }
}

}  // namespace
}  // namespace kiln::cpu
