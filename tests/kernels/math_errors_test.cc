// Bad inputs to the math kernels end in kiln's own errors (BadInput for data, BadModel for the
// graph), never in a crash; integer corner cases (division by zero, INT_MIN / -1, wide shifts)
// have defined results.
#include <gtest/gtest.h>

#include <unistd.h>

#include <climits>
#include <filesystem>
#include <limits>

#include "graph/onnx_io.h"
#include "single_node.h"
#include "test_util.h"

namespace kiln::test {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor i32(Shape s, std::vector<int32_t> v) { return Tensor::from_vector<int32_t>(std::move(s), v); }
Attribute attr_str(const std::string& v) { Attribute a; a.kind = Attribute::Kind::String; a.s = v; return a; }

TEST(MathErrors, MismatchedTypesAndShapes) {
  EXPECT_THROW(run_single_node({"Add"}, {f32({2}, {1, 2}), i32({2}, {1, 2})}), BadInput);
  EXPECT_THROW(run_single_node({"Where"}, {f32({1}, {1}), f32({1}, {1}), f32({1}, {2})}), BadInput);
  EXPECT_THROW(run_single_node({"Softmax", "", {}, 13}, {i32({2}, {1, 2})}), BadInput);
  EXPECT_THROW(run_single_node({"Equal"}, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 2})}), BadInput);
}

TEST(MathErrors, AxesOutOfRange) {
  SingleNode ln{"LayerNormalization", "", {{"axis", attr_int(3)}}};
  EXPECT_THROW(run_single_node(ln, {f32({1, 2}, {1, 2}), f32({2}, {1, 1})}), Error);
  SingleNode rs{"ReduceSum", "", {{"axes", attr_ints({5})}}, 11};
  EXPECT_THROW(run_single_node(rs, {f32({2}, {1, 2})}), Error);
  SingleNode am{"ArgMax", "", {{"axis", attr_int(0)}}};
  EXPECT_THROW(run_single_node(am, {Tensor(DType::F32, {0, 2})}), BadInput);
}

TEST(MathErrors, MalformedAttributes) {
  EXPECT_THROW(run_single_node({"Einsum", "", {{"equation", attr_str("ij,jk->i$")}}, 12},
                               {f32({1, 1}, {1}), f32({1, 1}, {1})}),
               BadModel);
  EXPECT_THROW(run_single_node({"BitShift", "", {{"direction", attr_str("UP")}}},
                               {Tensor::from_vector<uint8_t>({1}, {1}), Tensor::from_vector<uint8_t>({1}, {1})}),
               BadModel);
  Tensor s(DType::String, {1});
  s.data<std::string>()[0] = "not a number";
  EXPECT_THROW(run_single_node({"Cast", "", {{"to", attr_int((int64_t)DType::F32)}}}, {s}), BadInput);
}

TEST(MathErrors, RecurrentWeightsOfTheWrongShape) {
  SingleNode lstm{"LSTM", "", {{"hidden_size", attr_int(2)}}, 14};
  EXPECT_THROW(run_single_node(lstm, {Tensor::zeros(DType::F32, {1, 1, 3}), Tensor::zeros(DType::F32, {1, 8, 2}),
                                      Tensor::zeros(DType::F32, {1, 8, 2})}),
               BadInput);
}

// The quotient of the most negative integer by -1 does not fit its type. x86 traps on it (ONNX
// Runtime 1.30 dies of SIGFPE on int32 Div and Mod(fmod=0) of INT_MIN by -1, so it cannot serve as
// the reference) and C++ leaves it undefined. kiln wraps it as two's complement does, the rule the
// Go specification ("if the dividend x is the most negative value ... x / -1 is equal to x") and
// Java (JLS 15.17.2) write down; the remainder is 0, since -1 divides every integer (Go, Java and
// ONNX Runtime's Mod with fmod=1 agree).
template <typename T>
void expect_most_negative_over_minus_one() {
  const T lo = std::numeric_limits<T>::min();
  SCOPED_TRACE(dtype_name(dtype_of<T>()));
  auto in = [](std::vector<T> v) { return Tensor::from_vector<T>({(int64_t)v.size()}, v); };
  // lo / -1 overflows; lo / 1, (lo + 1) / -1 and -7 / 2 (truncates toward zero) do not.
  auto d = run_single_node({"Div"}, {in({lo, lo, T(lo + 1), T(-7)}), in({T(-1), T(1), T(-1), T(2)})})[0];
  EXPECT_EQ(d.template to_vector<T>(), (std::vector<T>{lo, lo, T(-(lo + 1)), T(-3)}));
  for (int64_t fmod : {0, 1}) {
    SingleNode mod{"Mod", "", {{"fmod", attr_int(fmod)}}};
    auto m = run_single_node(mod, {in({lo, T(lo + 1), T(-7)}), in({T(-1), T(-1), T(2)})})[0];
    // -7 mod 2: the divisor's sign (1) with fmod=0, the dividend's (-1) with fmod=1.
    EXPECT_EQ(m.template to_vector<T>(), (std::vector<T>{0, 0, T(fmod ? -1 : 1)})) << "fmod=" << fmod;
  }
}

// Where ONNX Runtime defines integer Div and Mod (no zero divisor, no overflow) kiln gives its
// results: Div truncates toward zero, Mod takes the divisor's sign (fmod=0) or the dividend's (fmod=1).
TEST(MathErrors, IntegerDivAndModMatchOnnxRuntimeWhereItDefinesThem) {
  const int32_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  std::vector<int32_t> a{7, -7, 7, -7, lo + 1, hi, lo, 0, 5, lo};
  std::vector<int32_t> b{2, 2, -2, -2, -1, -1, 3, -5, 7, lo};
  Model m;
  m.ir_version = 8;
  m.set_opset("", 17);
  const int64_t n = (int64_t)a.size();
  for (const char* name : {"a", "b"}) m.graph.inputs.push_back({name, DType::I32, std::vector<Dim>{Dim{n, ""}}});
  for (const char* name : {"q", "r0", "r1"}) m.graph.outputs.push_back({name, DType::I32, std::vector<Dim>{Dim{n, ""}}});
  Node div;
  div.op_type = "Div";
  div.inputs = {"a", "b"};
  div.outputs = {"q"};
  Node mod0 = div, mod1 = div;
  mod0.op_type = mod1.op_type = "Mod";
  mod0.outputs = {"r0"};
  mod1.outputs = {"r1"};
  mod0.attributes["fmod"] = attr_int(0);
  mod1.attributes["fmod"] = attr_int(1);
  m.graph.nodes = {div, mod0, mod1};
  NamedTensors feeds{{"a", i32({n}, a)}, {"b", i32({n}, b)}};
  SessionOptions so;
  so.optimization_level = 0;
  NamedTensors got = Session(Model(m), so).run(feeds);

  KILN_REQUIRE(!ort_peer().empty(), "ONNX Runtime peer (make peers)");
  auto dir = std::filesystem::temp_directory_path() / ("kiln-intdiv-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  save_model(m, (dir / "intdiv.onnx").string());
  NamedTensors ort = run_ort((dir / "intdiv.onnx").string(), feeds, dir.string());
  for (const char* name : {"q", "r0", "r1"})
    EXPECT_EQ(got.at(name).to_vector<int32_t>(), ort.at(name).to_vector<int32_t>()) << name;
  std::filesystem::remove_all(dir);
}

TEST(MathErrors, IntegerCornerCasesAreDefined) {
  expect_most_negative_over_minus_one<int8_t>();
  expect_most_negative_over_minus_one<int16_t>();
  expect_most_negative_over_minus_one<int32_t>();
  expect_most_negative_over_minus_one<int64_t>();
  // Division by zero is defined as 0 (Div and Mod), never a trap.
  auto d = run_single_node({"Div"}, {i32({2}, {INT_MIN, 5}), i32({2}, {-1, 0})})[0];
  EXPECT_EQ(d.to_vector<int32_t>(), (std::vector<int32_t>{INT_MIN, 0}));
  auto m = run_single_node({"Mod"}, {i32({2}, {INT_MIN, 5}), i32({2}, {-1, 0})})[0];
  EXPECT_EQ(m.to_vector<int32_t>(), (std::vector<int32_t>{0, 0}));
  auto b = run_single_node({"BitShift", "", {{"direction", attr_str("LEFT")}}},
                           {Tensor::from_vector<uint8_t>({1}, {1}), Tensor::from_vector<uint8_t>({1}, {9})})[0];
  EXPECT_EQ(b.to_vector<uint8_t>(), (std::vector<uint8_t>{0}));
}

}  // namespace
}  // namespace kiln::test
