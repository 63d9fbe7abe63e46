// kiln/inspect.h, kiln/cpu.h and ModelFolder's config fields, checked against what libonnx, the
// CPU's own flags and the fixture's config.json say (read here independently of kiln).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "kiln/cpu.h"
#include "kiln/inspect.h"
#include "kiln/model_folder.h"
#include "kiln/session.h"
#include "onnx/onnx_pb.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

onnx::ModelProto read_proto(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromIstream(&in)) << path;
  return m;
}

// A one-node graph of `op` in `domain` (Identity-like: one float input, one output), written by libonnx.
std::string write_one_node(const fs::path& dir, const std::string& domain, const std::string& op) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("introspection_test");
  auto* imp = m.add_opset_import();
  imp->set_domain("");
  imp->set_version(17);
  if (!domain.empty()) {
    auto* d = m.add_opset_import();
    d->set_domain(domain);
    d->set_version(1);
  }
  auto* g = m.mutable_graph();
  g->set_name("g");
  for (auto [vi, name] : {std::pair{g->add_input(), "x"}, std::pair{g->add_output(), "y"}}) {
    vi->set_name(name);
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_param("n");
    t->mutable_shape()->add_dim()->set_dim_value(3);
  }
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_domain(domain);
  n->add_input("x");
  n->add_output("y");
  std::string path = (dir / (op + ".onnx")).string();
  std::ofstream out(path, std::ios::binary);
  m.SerializeToOstream(&out);
  return path;
}

}  // namespace

TEST(Inspect, SummaryOfAFixtureMatchesLibonnx) {
  const std::string path = kiln::test::fixture("models/distilbert-tiny/model.onnx");
  onnx::ModelProto p = read_proto(path);
  kiln::ModelSummary s = kiln::inspect_model(path);
  EXPECT_EQ(s.ir_version, p.ir_version());
  EXPECT_EQ(s.producer, p.producer_name() + (p.producer_version().empty() ? "" : " " + p.producer_version()));
  for (const auto& imp : p.opset_import())
    EXPECT_EQ(s.opsets.at(imp.domain().empty() ? "ai.onnx" : imp.domain()), imp.version());
  EXPECT_EQ(s.nodes, (size_t)p.graph().node_size());
  std::map<std::string, int> ops;
  for (const auto& n : p.graph().node()) ops[(n.domain().empty() ? "" : n.domain() + ":") + n.op_type()]++;
  EXPECT_EQ(s.ops, ops);
  int64_t params = 0;
  for (const auto& t : p.graph().initializer()) {
    int64_t n = 1;
    for (int64_t d : t.dims()) n *= d;
    params += n;
  }
  EXPECT_EQ(s.parameters, params);
  std::set<std::string> inits;
  for (const auto& t : p.graph().initializer()) inits.insert(t.name());
  std::vector<std::string> inputs;
  for (const auto& v : p.graph().input())
    if (!inits.count(v.name())) inputs.push_back(v.name());
  ASSERT_EQ(s.inputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(s.inputs[i].name, inputs[i]);
    EXPECT_EQ(s.inputs[i].dtype, kiln::DType::I64);
  }
  ASSERT_EQ(s.outputs.size(), (size_t)p.graph().output_size());
  EXPECT_EQ(s.outputs[0].name, p.graph().output(0).name());
  EXPECT_TRUE(s.unsupported_ops.empty());
}

TEST(Inspect, UnknownOpIsListedWithoutASession) {
  kiln::test::ScratchDir d("kiln-inspect");
  const std::string path = write_one_node(d.path, "example.domain", "NoSuchOp");
  kiln::ModelSummary s = kiln::inspect_model(path);
  ASSERT_EQ(s.unsupported_ops.size(), 1u);
  EXPECT_NE(s.unsupported_ops[0].find("NoSuchOp"), std::string::npos);
  EXPECT_EQ(s.ops.at("example.domain:NoSuchOp"), 1);
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ(s.inputs[0].dim_names[0], "n");
  EXPECT_THROW(kiln::Session{path}, kiln::Error);
}

TEST(Inspect, LimitsApply) {
  kiln::SessionOptions tiny;
  tiny.max_model_bytes = 16;
  EXPECT_THROW(kiln::inspect_model(kiln::test::fixture("models/distilbert-tiny/model.onnx"), tiny), kiln::BadModel);
}

TEST(Kernels, RegistryCoversAFixtureAndIsSorted) {
  std::vector<kiln::KernelEntry> ks = kiln::registered_kernels();
  ASSERT_FALSE(ks.empty());
  for (size_t i = 1; i < ks.size(); ++i)
    EXPECT_LE(std::tie(ks[i - 1].domain, ks[i - 1].op, ks[i - 1].since), std::tie(ks[i].domain, ks[i].op, ks[i].since));
  for (const auto& k : ks) {
    EXPECT_LE(k.since, k.until) << k.op;
    EXPECT_FALSE(k.device.empty());
  }
  // Every (op, opset) of the fixture, as libonnx reads it, falls in some CPU kernel's range.
  onnx::ModelProto p = read_proto(kiln::test::fixture("models/distilbert-tiny/model.onnx"));
  std::map<std::string, int64_t> opset;
  for (const auto& imp : p.opset_import()) opset[imp.domain().empty() ? "ai.onnx" : imp.domain()] = imp.version();
  for (const auto& n : p.graph().node()) {
    const std::string domain = n.domain().empty() ? "ai.onnx" : n.domain();
    bool found = false;
    for (const auto& k : ks)
      found |= k.device == "cpu" && k.domain == domain && k.op == n.op_type() && k.since <= opset[domain] &&
               opset[domain] <= k.until;
    EXPECT_TRUE(found) << domain << ":" << n.op_type();
  }
  // An op that does not exist is not there.
  for (const auto& k : ks) EXPECT_NE(k.op, "NoSuchOp");
}

TEST(Plan, DescribePlanListsEveryNodeOnTheCpu) {
  kiln::test::ScratchDir d("kiln-plan");
  const std::string path = write_one_node(d.path, "", "Relu");
  kiln::SessionOptions so;
  so.optimization_level = 0;
  kiln::Session s(path, so);
  kiln::PlanInfo plan = kiln::describe_plan(s);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].op, "Relu");
  EXPECT_EQ(plan.steps[0].inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(plan.steps[0].outputs, std::vector<std::string>{"y"});
  EXPECT_EQ(plan.copies(), 0u);
  EXPECT_EQ(kiln::device_name(plan.device), "cpu");
}

TEST(Cpu, InfoAgreesWithTheCompilersCpuFlags) {
  const kiln::CpuInfo& c = kiln::cpu_info();
  __builtin_cpu_init();
  EXPECT_EQ(c.avx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
  EXPECT_EQ(c.avx512, __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"));
  if (__builtin_cpu_supports("avx512vnni")) EXPECT_TRUE(c.vnni);
  EXPECT_TRUE(c.isa == "scalar" || c.isa == "avx2" || c.isa == "avx512") << c.isa;
  if (c.isa == "avx512") EXPECT_TRUE(c.avx512);
  if (c.isa == "avx2") EXPECT_TRUE(c.avx2);
  EXPECT_FALSE(c.model_name.empty());
  EXPECT_EQ(&c, &kiln::cpu_info());
}

TEST(ModelFolderConfig, FieldsOfTheFixtureConfig) {
  // config.json of distilbert-tiny: id2label {0: NEGATIVE, 1: POSITIVE}, vocab 1024, 128 positions.
  kiln::ModelFolder m = kiln::ModelFolder::open(kiln::test::fixture("models/distilbert-tiny"));
  EXPECT_EQ(m.labels(), (std::vector<std::string>{"NEGATIVE", "POSITIVE"}));
  EXPECT_EQ(m.vocab_size(), 1024);
  EXPECT_EQ(m.max_positions(), 128);
  EXPECT_EQ(m.prefix(), "");
  EXPECT_EQ(m.require_config(), m.config_path());
}

TEST(ModelFolderConfig, LabelsFillGapsAndNumLabels) {
  kiln::test::ScratchDir d("kiln-labels");
  std::ofstream(d.path / "config.json") << R"({"id2label": {"1": "b"}, "num_labels": 3, "n_positions": 64,
                                             "prefix": "summarize: "})";
  kiln::ModelFolder m = kiln::ModelFolder::open(d.path.string());
  EXPECT_EQ(m.labels(), (std::vector<std::string>{"LABEL_0", "b", "LABEL_2"}));
  EXPECT_EQ(m.max_positions(), 64);
  EXPECT_EQ(m.vocab_size(), 0);
  EXPECT_EQ(m.prefix(), "summarize: ");
  std::ofstream(d.path / "config.json", std::ios::trunc) << R"({"id2label": {"x": "a"}})";
  EXPECT_THROW(kiln::ModelFolder::open(d.path.string()), kiln::BadModel);
  fs::remove(d.path / "config.json");
  kiln::ModelFolder none = kiln::ModelFolder::open(d.path.string());
  EXPECT_TRUE(none.labels().empty());
  EXPECT_THROW(none.require_config(), kiln::IoError);
}

TEST(ModelFolderConfig, SizeOnDiskCountsWhatAPipelineReads) {
  const std::string dir = kiln::test::fixture("models/distilbert-tiny");
  kiln::ModelFolder m = kiln::ModelFolder::open(dir);
  auto bytes = [](const std::string& p) { return (int64_t)fs::file_size(p); };
  kiln::ModelFolderSize plain = m.size_on_disk();
  EXPECT_EQ(plain.graph_bytes, bytes(dir + "/model.onnx"));
  EXPECT_EQ(plain.total_bytes, plain.graph_bytes + bytes(dir + "/config.json"));
  kiln::ModelFolderSize q = m.size_on_disk("model_quantized.onnx");
  EXPECT_EQ(q.graph_bytes, bytes(dir + "/model_quantized.onnx"));
  ASSERT_FALSE(q.files.empty());
  EXPECT_EQ(q.files[0].role, "graph");
}
