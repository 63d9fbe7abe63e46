// The crafted files given to the kiln binary: `kiln inspect/exec/quantize` for ONNX files,
// `kiln export` for damaged checkpoints, `kiln tokenize/run` for damaged tokenizers. Each must end
// with exactly one line "kiln: error: ..." on stderr and the exit code of its error kind (2 bad
// model, 3 bad input, 4 unsupported, 5 I/O; never a signal or 70), and leave no output behind:
// quantize's and export's output path is absent afterwards, or holds what it held before.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/tensor_json.h"
#include "crafted.h"
#include "crafted_graphs.h"
#include "graph/onnx_io.h"
#include "limit_graphs.h"
#include "spiece_model.h"
#include "test_util.h"

using namespace kiln;
namespace fs = std::filesystem;
namespace crafted = kiln::test::crafted;

namespace {

struct Cli {
  int code = 0;
  std::string err;
};

// Runs `kiln ARGS` (stdin from /dev/null unless `stdin_text`), keeping stderr only.
Cli kiln(const std::string& args, const std::string& stdin_text = "") {
  Cli c;
  // stdin_text: plain words only (it goes between single quotes).
  std::string feed = stdin_text.empty() ? "</dev/null" : "printf '%s\\n' '" + stdin_text + "' |";
  std::string group = "{ " + test::kiln_binary() + " " + args + " 2>&1 >/dev/null; }";
  c.code = test::run_command(stdin_text.empty() ? group + " " + feed : feed + " " + group, &c.err);
  return c;
}

// One error line with the code of a kiln error (not internal, not a signal), containing `says`.
void expect_refused(const Cli& c, int code, const std::string& says, const std::string& what) {
  EXPECT_EQ(c.code, code) << what << ": " << c.err;
  EXPECT_EQ(c.err.rfind("kiln: error: ", 0), 0u) << what << ": " << c.err;
  ASSERT_FALSE(c.err.empty()) << what;
  EXPECT_EQ(c.err.find('\n'), c.err.size() - 1) << what << ": not one line: " << c.err;
  EXPECT_NE(c.err.find(says), std::string::npos) << what << ": " << c.err;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// inspect, exec and quantize on `model` all refuse it with `code` and a line containing `says`;
// quantize leaves no output file, and exec's --output file keeps its previous content.
// `load_only`: the file is a valid model that only fails when run (huge shapes), so inspect and
// quantize, which do not run it, are not asked.
void expect_onnx_refused(const fs::path& model, int code, const std::string& says, const std::string& what,
                         bool load_only = false) {
  fs::path dir = model.parent_path();
  fs::path inputs = dir / "x.json";
  if (!fs::exists(inputs))
    write_file_atomic(inputs.string(), tensors_to_json_text({{"x", Tensor::from_vector<float>({1}, {1.f})}}));
  if (!load_only) expect_refused(kiln("inspect " + model.string()), code, says, what + " (inspect)");
  fs::path out = dir / "out.json";
  write_bytes(out, "previous");
  expect_refused(kiln("exec " + model.string() + " --inputs " + inputs.string() + " --output " + out.string()), code,
                 says, what + " (exec)");
  EXPECT_EQ(read_file(out.string()), "previous") << what;
  if (load_only) return;
  fs::path q = dir / "quantized.onnx";
  fs::remove(q);
  expect_refused(kiln("quantize " + model.string() + " " + q.string()), code, says, what + " (quantize)");
  EXPECT_FALSE(fs::exists(q)) << what << ": quantize left " << q;
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << what << ": left " << e.path();
}

TEST(CraftedCli, GraphsWithBadStructure) {
  test::ScratchDir dir;
  struct Case {
    const char* name;
    onnx::ModelProto proto;
    std::string says;
  };
  std::vector<Case> cases = {
      {"cycle", crafted::cycle(), "has a cycle: Add 'first'"},
      {"missing value", crafted::reads_missing_value(), "reads 'ghost', which no node, input or initializer provides"},
      {"output never produced", crafted::output_never_produced(), "output 'nowhere' is not produced"},
      {"duplicate input", crafted::duplicate_input(), "two inputs are named 'x'"},
      {"duplicate initializer", crafted::duplicate_initializer(), "two initializers are named 'w'"},
      {"duplicate node output", crafted::duplicate_node_output(), "both write 't'"},
      {"output overwrites initializer", crafted::node_output_overwrites(false), "which is already an initializer"},
      {"subgraph reads missing value", crafted::subgraph_reads_missing_value(), "graph 'then_branch'"},
  };
  for (auto& c : cases) {
    std::string file = std::string(c.name) + ".onnx";
    std::replace(file.begin(), file.end(), ' ', '_');
    fs::path model = dir.path / file;
    write_bytes(model, c.proto.SerializeAsString());
    expect_onnx_refused(model, 2, c.says, c.name);
  }
}

TEST(CraftedCli, DamagedOnnxFiles) {
  test::ScratchDir dir;
  std::string good = read_file(test::fixture("models/bert-tiny/model.onnx"));
  fs::path model = dir.path / "model.onnx";
  write_bytes(model, good.substr(0, good.size() / 2));
  expect_onnx_refused(model, 2, "is not a valid ONNX model", "truncated");
  write_bytes(model, test::random_blobs(good, 1, 0, 5)[0].bytes);
  expect_onnx_refused(model, 2, "is not a valid ONNX model", "random bytes");
  write_bytes(model, "");
  expect_onnx_refused(model, 2, "is empty", "empty file");
  // Over a given size limit, refused before parsing.
  write_bytes(model, good);
  expect_refused(kiln("inspect " + model.string() + " --max-model-bytes 100000"), 2,
                 "is 760778 bytes (742.9 KiB), over the limit of 100000 bytes (97.7 KiB) for a model file; raise "
                 "max_model_bytes (--max-model-bytes) if that is meant",
                 "size limit (inspect)");
  write_file_atomic((dir.path / "in.json").string(), read_file(test::fixture("models/bert-tiny/ref/case0_inputs.json")));
  expect_refused(kiln("exec " + model.string() + " --inputs " + (dir.path / "in.json").string() +
                      " --max-model-bytes 100000"),
                 2, "over the limit of 100000 bytes", "size limit (exec)");
  EXPECT_EQ(kiln("exec " + model.string() + " --inputs " + (dir.path / "in.json").string() + " --max-model-bytes 760778").code,
            0);
}

// kiln run on a model folder whose graph is damaged: the pipeline's one error line, nothing else.
TEST(CraftedCli, RunOnADamagedModelFolder) {
  test::ScratchDir dir;
  std::string good = read_file(test::fixture("models/distilbert-tiny/model.onnx"));
  const std::pair<std::string, std::string> graphs[] = {{good.substr(0, good.size() / 2), "is not a valid ONNX model"},
                                                        {crafted::cycle().SerializeAsString(), "has a cycle"}};
  for (const auto& [bytes, says] : graphs) {
    fs::remove_all(dir.path / "m");
    fs::create_directories(dir.path / "m");
    fs::copy_file(test::fixture("models/distilbert-tiny/config.json"), dir.path / "m" / "config.json");
    write_bytes(dir.path / "m" / "model.onnx", bytes);
    expect_refused(kiln("run " + (dir.path / "m").string() + " --task text-classification --input-ids 1,2,3"), 2, says,
                   "run: " + says);
  }
}

TEST(CraftedCli, HugeShapesAndEndlessLoops) {
  test::ScratchDir dir;
  struct Case {
    Model m;
    int code;
    std::string says;
  };
  std::vector<Case> cases;
  cases.push_back({test::shape_op_graph("Reshape", {4294967296, 4294967296}), 2, "has more elements than a 64-bit count holds"});
  cases.push_back({test::shape_op_graph("Expand", {1000000, 1000000}), 3, "(1000000000000 elements) needs 4000000000000 bytes"});
  cases.push_back({test::shape_op_graph("ConstantOfShape", {1000000, 1000000}), 3, "over the limit of 17179869184 bytes"});
  cases.push_back({test::shape_op_graph("Tile", {1000000000000}), 3, "(1000000000000 elements) needs 4000000000000 bytes"});
  for (auto& c : cases) {
    fs::path model = dir.path / (c.m.graph.name + ".onnx");
    save_model(c.m, model.string());
    expect_onnx_refused(model, c.code, c.says, c.m.graph.name, true);
  }
  fs::path loop = dir.path / "loop.onnx";
  save_model(test::loop_graph(1000000000000000), loop.string());
  write_file_atomic((dir.path / "x.json").string(), tensors_to_json_text({{"x", Tensor::from_vector<float>({1}, {1.f})}}));
  expect_refused(kiln("exec " + loop.string() + " --inputs " + (dir.path / "x.json").string() + " --timeout-ms 100"), 3,
                 "the run took longer than its limit of 100 ms and was stopped", "loop");
}

TEST(CraftedCli, SubgraphsNestedTooDeep) {
  test::ScratchDir dir;
  fs::path deep = dir.path / "deep.onnx", ok = dir.path / "ok.onnx";
  write_bytes(deep, crafted::nested_ifs(65).SerializeAsString());
  write_bytes(ok, crafted::nested_ifs(64).SerializeAsString());
  fs::path x = dir.path / "x.json";
  write_file_atomic(x.string(), tensors_to_json_text({{"x", Tensor::from_vector<float>({1}, {1.f})}}));
  expect_onnx_refused(deep, 2,
                      "subgraph 'level65' is nested 65 levels deep (If/Loop/Scan bodies inside each other), over the "
                      "limit of 64; raise max_subgraph_depth (--max-subgraph-depth) if that is meant",
                      "depth 65");
  EXPECT_EQ(kiln("exec " + ok.string() + " --inputs " + x.string()).code, 0);
  EXPECT_EQ(kiln("exec " + deep.string() + " --inputs " + x.string() + " --max-subgraph-depth 65").code, 0);
  expect_refused(kiln("inspect " + ok.string() + " --max-subgraph-depth 10"), 2, "subgraph 'level11' is nested 11",
                 "depth 64, limit 10");
  // Far deeper than any limit: still one clear line (protobuf's nesting limit answers first).
  fs::path abyss = dir.path / "abyss.onnx";
  write_bytes(abyss, crafted::nested_ifs(400).SerializeAsString());
  expect_refused(kiln("inspect " + abyss.string()), 2, "nested deeper than protobuf allows", "depth 400");
}

TEST(CraftedCli, ExternalDataOutsideTheFolder) {
  test::ScratchDir dir;
  fs::create_directories(dir.path / "model");
  fs::create_directories(dir.path / "elsewhere");
  // A graph y = x + w whose 1024-float w lives in an external file.
  exporting::GraphBuilder b("ext");
  std::string x = b.input("x", DType::F32, {Dim{1024, ""}});
  std::vector<float> w(1024, 0.5f);
  std::string wn = b.initializer("w", Tensor::from_vector<float>({1024}, w));
  b.output(b.op("Add", {x, wn}), "y", DType::F32, {Dim{1024, ""}});
  Model m = b.finish();
  SaveOptions so;
  so.external_data = true;
  so.external_file = "w.bin";
  fs::path model = dir.path / "model" / "m.onnx";
  save_model(m, model.string(), so);
  fs::copy_file(dir.path / "model" / "w.bin", dir.path / "elsewhere" / "w.bin");
  fs::create_symlink(dir.path / "elsewhere" / "w.bin", dir.path / "model" / "link.bin");
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(read_file(model.string())));
  for (const std::string loc : {(dir.path / "elsewhere" / "w.bin").string(), std::string("../elsewhere/w.bin"),
                                std::string("link.bin")}) {
    for (auto& t : *mp.mutable_graph()->mutable_initializer())
      for (auto& kv : *t.mutable_external_data())
        if (kv.key() == "location") kv.set_value(loc);
    write_bytes(model, mp.SerializeAsString());
    expect_onnx_refused(model, 2, loc[0] == '/' ? "is absolute; only files inside the model's folder are allowed"
                                                : "points outside the model's folder",
                        "location " + loc);
  }
}

// A bert-tiny checkpoint folder whose weights file is replaced by `bytes`.
fs::path checkpoint_dir(const fs::path& root, const std::string& name, const std::string& file, const std::string& bytes) {
  fs::path d = root / name;
  fs::create_directories(d);
  fs::copy_file(test::fixture("models/bert-tiny/config.json"), d / "config.json");
  write_bytes(d / file, bytes);
  return d;
}

TEST(CraftedCli, DamagedCheckpoints) {
  test::ScratchDir dir;
  for (std::string file : {"model.safetensors", "pytorch_model.bin"}) {
    std::string good = read_file(test::fixture("models/bert-tiny/" + file));
    std::vector<test::Variant> variants = {{"truncated", good.substr(0, good.size() / 3)},
                                           {"random", test::random_blobs(good, 1, 0, 3)[0].bytes},
                                           {"empty", ""}};
    std::string flipped = good;
    // The header's length; the signature of the zip's end-of-central-directory record.
    flipped[file == "model.safetensors" ? 3 : good.size() - 22] ^= 0x40;
    variants.push_back({"header bit", flipped});
    for (size_t k = 0; k < variants.size(); ++k) {
      std::string what = file + " " + variants[k].label;
      fs::path src = checkpoint_dir(dir.path, "src" + std::to_string(k) + file, file, variants[k].bytes);
      fs::path out = dir.path / ("out" + std::to_string(k) + file);
      Cli c = kiln("export " + src.string() + " " + out.string());
      expect_refused(c, 2, file, what);
      EXPECT_FALSE(fs::exists(out)) << what << ": export left " << out;
    }
  }
}

TEST(CraftedCli, DamagedTokenizers) {
  test::ScratchDir dir;
  std::string json = read_file(std::string(KILN_SOURCE_DIR) + "/fuzz/corpus/tokenizer_json/wp.json");
  std::string spm = test::small_spiece_model();
  struct Case {
    std::string label, file, bytes, says;
  };
  std::vector<Case> cases = {
      {"json truncated", "tokenizer.json", json.substr(0, json.size() / 2), "is not valid JSON"},
      {"json random", "tokenizer.json", test::random_blobs(json, 1, 0, 9)[0].bytes, "is not valid JSON"},
      {"spiece truncated", "spiece.model", spm.substr(0, spm.size() / 2), "is damaged"},
      {"spiece cut between fields", "spiece.model", test::small_spiece_model(false), "is incomplete"},
      {"spiece random", "spiece.model", test::random_blobs(spm, 1, 0, 4)[0].bytes, "spiece.model"},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    fs::path d = dir.path / ("tok" + std::to_string(k));
    fs::create_directories(d);
    write_bytes(d / cases[k].file, cases[k].bytes);
    expect_refused(kiln("tokenize " + d.string(), "hello world"), 2, cases[k].says, cases[k].label + " (tokenize)");
    // kiln run: a model folder whose tokenizer is the damaged one.
    fs::copy_file(test::fixture("models/distilbert-tiny/model.onnx"), d / "model.onnx");
    fs::copy_file(test::fixture("models/distilbert-tiny/config.json"), d / "config.json");
    expect_refused(kiln("run " + d.string() + " --task text-classification 'hello world'"), 2, cases[k].says,
                   cases[k].label + " (run)");
  }
}

}  // namespace
