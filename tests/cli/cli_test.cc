// The command line end to end: outputs, exit codes and one-line errors on bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "onnx/onnx_pb.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("kiln-cli-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string kiln(const std::string& args) { return test::kiln_binary() + " " + args; }

// The last line of the command's output (stderr is merged).
std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

TEST(Cli, ExecWritesOutputsThatMatchTheReference) {
  fs::path d = temp_dir("exec");
  std::string m = test::fixture("models/bert-tiny");
  std::string out;
  ASSERT_EQ(0, test::run_command(kiln("exec " + m + "/model.onnx --inputs " + m + "/ref/case0_inputs.json --output " +
                                      (d / "out.json").string()),
                                 &out))
      << out;
  auto got = read_tensors_json((d / "out.json").string());
  auto ref = read_tensors_json(m + "/ref/case0_outputs.json");
  EXPECT_LE(test::relative_error(got.at("logits"), ref.at("logits")), 1e-4);
  fs::remove_all(d);
}

TEST(Cli, BadModelBytesExitTwoWithOneLine) {
  fs::path d = temp_dir("bad");
  std::string bytes = read_file(test::fixture("models/bert-tiny/model.onnx"));
  std::ofstream(d / "cut.onnx", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  std::ofstream(d / "junk.onnx", std::ios::binary) << "\x08\x07\xff\xfe not an onnx file at all";
  std::string inputs = test::fixture("models/bert-tiny/ref/case0_inputs.json");
  for (std::string f : {"cut.onnx", "junk.onnx"}) {
    std::string out;
    EXPECT_EQ(2, test::run_command(kiln("exec " + (d / f).string() + " --inputs " + inputs), &out)) << out;
    EXPECT_NE(out.find("is not a valid ONNX model"), std::string::npos) << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line expected: " << out;
  }
  fs::remove_all(d);
}

TEST(Cli, WrongFeedNamesTheInputAndWritesNothing) {
  fs::path d = temp_dir("feed");
  std::ofstream(d / "in.json") << R"({"input_ids": {"dtype": "float32", "dims": [1, 2], "data": [1, 2]},
                                      "attention_mask": {"dtype": "int64", "dims": [1, 2], "data": [1, 1]},
                                      "token_type_ids": {"dtype": "int64", "dims": [1, 2], "data": [0, 0]}})";
  std::string out;
  EXPECT_EQ(3, test::run_command(kiln("exec " + test::fixture("models/bert-tiny/model.onnx") + " --inputs " +
                                      (d / "in.json").string() + " --output " + (d / "out.json").string()),
                                 &out));
  EXPECT_NE(last_line(out).find("input 'input_ids' must be int64 but is float32"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(d / "out.json"));
  fs::remove_all(d);
}

TEST(Cli, InspectListsInterfaceAndMissingOps) {
  std::string out;
  ASSERT_EQ(0, test::run_command(kiln("inspect " + test::fixture("models/gpt2-tiny/decoder_with_past_model.onnx")), &out));
  EXPECT_NE(out.find("past_key_values.0.key"), std::string::npos) << out;
  EXPECT_NE(out.find("kiln can run every op in this model"), std::string::npos) << out;
  ASSERT_EQ(0, test::run_command(kiln("inspect --json " + test::fixture("models/bert-tiny/model_quantized.onnx")), &out));
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["ops"]["MatMulInteger"], 14);  // model_quantized_info.json's histogram
  EXPECT_EQ(j["opsets"]["ai.onnx"], 13);
  EXPECT_TRUE(j["unsupported_ops"].empty());
}

// ---- The error contract (README): exit code 0 success, 2 bad model bytes, 3 bad input or flags,
// 4 unsupported, 5 I/O, 70 internal; every error is one line on stderr that names the problem.

struct KilnRun {
  int code;         // -1 when kiln died of a signal
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `kiln ARGS` with `input` on stdin and stdout and stderr kept apart. `env` holds extra
// NAME=VALUE words for the environment. `exec` keeps kiln the shell's own process, so a crash
// reaches run_command as a signal (-1), not as the shell's 128+N.
KilnRun kiln_run(const std::string& args, const std::string& input = "", const std::string& env = "") {
  struct Scratch {
    fs::path dir = temp_dir("io");
    ~Scratch() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  };
  static const Scratch scratch;
  const fs::path& io = scratch.dir;
  std::ofstream(io / "stdin", std::ios::binary | std::ios::trunc) << input;
  fs::remove(io / "stdout");
  fs::remove(io / "stderr");
  std::string cmd = "{ exec env -u KILN_TEST_INTERNAL_ERROR " + env + " " + test::kiln_binary() + " " + args + " <'" +
                    (io / "stdin").string() + "' >'" + (io / "stdout").string() + "' 2>'" + (io / "stderr").string() +
                    "'; }";
  KilnRun r;
  r.code = test::run_command(cmd);
  r.out = fs::exists(io / "stdout") ? read_file((io / "stdout").string()) : "";
  r.err = fs::exists(io / "stderr") ? read_file((io / "stderr").string()) : "";
  return r;
}

// Exit code `code` and exactly one non-empty line on stderr, "kiln: error: ...", that contains
// every text in `names` (the file, flag or value at fault).
void expect_error(const KilnRun& r, int code, const std::vector<std::string>& names, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(r.code, code) << "stderr: " << r.err;
  ASSERT_FALSE(r.err.empty()) << "no message on stderr";
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line expected on stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("kiln: error: ", 0), 0u) << r.err;
  EXPECT_GT(r.err.size(), std::string("kiln: error: \n").size()) << r.err;
  for (const auto& n : names) EXPECT_NE(r.err.find(n), std::string::npos) << "should name '" << n << "': " << r.err;
}

// y = x + w (w: 2048 floats) saved with its weights in w.bin beside the .onnx.
fs::path external_model(const fs::path& d) {
  Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph.inputs.push_back({"x", DType::F32, std::vector<Dim>{Dim{2048, ""}}});
  m.graph.outputs.push_back({"y", DType::F32, std::vector<Dim>{Dim{2048, ""}}});
  m.graph.initializers["w"] = Tensor::from_vector<float>({2048}, std::vector<float>(2048, 1.0f));
  Node add;
  add.op_type = "Add";
  add.inputs = {"x", "w"};
  add.outputs = {"y"};
  m.graph.nodes = {add};
  SaveOptions o;
  o.external_data = true;
  o.external_file = "w.bin";
  save_model(m, (d / "m.onnx").string(), o);
  return d / "m.onnx";
}

// Rewrites a saved model's protobuf in place.
template <typename F>
void edit_model(const fs::path& p, F edit) {
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(read_file(p.string())));
  edit(mp);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << mp.SerializeAsString();
}

void set_external_entry(const fs::path& p, const std::string& key, const std::string& value) {
  edit_model(p, [&](onnx::ModelProto& mp) {
    for (auto& t : *mp.mutable_graph()->mutable_initializer())
      for (auto& kv : *t.mutable_external_data())
        if (kv.key() == key) kv.set_value(value);
  });
}

TEST(CliErrors, UsageErrorsExitThree) {
  std::string model = test::fixture("models/bert-tiny/model.onnx");
  std::string inputs = test::fixture("models/bert-tiny/ref/case0_inputs.json");
  expect_error(kiln_run("no-such-command"), 3, {"no-such-command"}, "unknown subcommand");
  expect_error(kiln_run(""), 3, {"subcommand"}, "no subcommand");
  expect_error(kiln_run("exec --no-such-flag"), 3, {"model is required"}, "unknown flag, and no model");
  expect_error(kiln_run("exec " + model + " --inputs " + inputs + " --no-such-flag"), 3, {"--no-such-flag"},
               "unknown flag");
  expect_error(kiln_run("exec " + model), 3, {"--inputs"}, "exec without its required --inputs");
  expect_error(kiln_run("exec " + model + " --inputs " + inputs + " --threads many"), 3, {"--threads", "many"},
               "exec --threads not a number");
  expect_error(kiln_run("inspect"), 3, {"model"}, "inspect without a model");
  expect_error(kiln_run("tokenize"), 3, {"dir"}, "tokenize without a folder");
  expect_error(kiln_run("conformance"), 3, {"dirs"}, "conformance without folders");
  expect_error(kiln_run("conformance . --timeout soon"), 3, {"--timeout", "soon"}, "conformance --timeout not a number");
  expect_error(kiln_run("export"), 3, {"src"}, "export without arguments");
  expect_error(kiln_run("quantize"), 3, {"usage: kiln quantize"}, "quantize without arguments");
  // --help and --version are not errors: stdout, exit 0, nothing on stderr.
  for (std::string help : {"--help", "exec --help", "quantize --help", "--version"}) {
    KilnRun r = kiln_run(help);
    EXPECT_EQ(r.code, 0) << help << ": " << r.err;
    EXPECT_FALSE(r.out.empty()) << help;
    EXPECT_EQ(r.err, "") << help;
  }
}

TEST(CliErrors, BadModelBytesExitTwo) {
  fs::path d = temp_dir("errors-bad-model");
  std::ofstream(d / "junk.onnx", std::ios::binary) << "\x08\x07\xff\xfe not an onnx file at all";
  std::string junk = (d / "junk.onnx").string();
  expect_error(kiln_run("inspect " + junk), 2, {junk, "is not a valid ONNX model"}, "inspect junk");
  expect_error(kiln_run("quantize " + junk + " " + (d / "q.onnx").string()), 2, {"is not a valid ONNX model"},
               "quantize junk");
  EXPECT_FALSE(fs::exists(d / "q.onnx"));
  // A checkpoint whose config.json is not JSON.
  fs::create_directories(d / "ckpt");
  std::ofstream(d / "ckpt" / "config.json") << "{\"model_type\": \"bert\",";
  expect_error(kiln_run("export " + (d / "ckpt").string() + " " + (d / "out").string() + " --random-weights"), 2,
               {"config.json", "is not valid JSON"}, "export with a broken config.json");
  EXPECT_FALSE(fs::exists(d / "out"));
  // A tokenizer.json that is not JSON.
  fs::create_directories(d / "tok");
  std::ofstream(d / "tok" / "tokenizer.json") << "{\"model\": [";
  expect_error(kiln_run("tokenize " + (d / "tok").string(), "hello\n"), 2, {"tokenizer.json"},
               "tokenize with a broken tokenizer.json");
  fs::remove_all(d);
}

TEST(CliErrors, BadInputExitsThree) {
  fs::path d = temp_dir("errors-bad-input");
  std::string model = test::fixture("models/bert-tiny/model.onnx");
  std::ofstream(d / "broken.json") << "{\"input_ids\": {\"dtype\": \"int64\", \"dims\": [1, 2], \"data\": [1, 2";
  expect_error(kiln_run("exec " + model + " --inputs " + (d / "broken.json").string()), 3, {"broken.json"},
               "exec with inputs that are not JSON");
  expect_error(kiln_run("inspect " + d.string()), 3, {d.string(), "folder"}, "inspect a folder");
  // A WordPiece vocabulary written here is enough for the tokenizer's input errors.
  fs::create_directories(d / "tok");
  std::ofstream(d / "tok" / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n";
  std::string tok = (d / "tok").string();
  ASSERT_EQ(kiln_run("tokenize " + tok, "hello world\n").code, 0);  // the folder itself is fine
  expect_error(kiln_run("tokenize " + tok + " --decode", "4 five 5\n"), 3, {"\"five\" is not a token id"},
               "tokenize --decode with a word among the ids");
  expect_error(kiln_run("tokenize " + tok + " --pair", "hello world\n"), 3, {"--pair", "tab"},
               "tokenize --pair without a tab");
  // Export refuses to write into a folder that has files.
  fs::create_directories(d / "full");
  std::ofstream(d / "full" / "keep.txt") << "keep";
  std::ofstream(d / "config.json") << read_file(test::fixture("models/distilbert-tiny/config.json"));
  expect_error(kiln_run("export " + (d / "config.json").string() + " " + (d / "full").string() + " --random-weights"),
               3, {(d / "full").string(), "not empty"}, "export into a folder with files");
  expect_error(kiln_run("export " + (d / "config.json").string() + " " + (d / "o").string() +
                        " --random-weights --opset 5"),
               3, {"--opset 5"}, "export --opset 5");
  EXPECT_FALSE(fs::exists(d / "o"));
  // Quantize flags.
  std::string out = (d / "q.onnx").string();
  expect_error(kiln_run("quantize " + model + " " + out + " --format zip"), 3, {"--format", "zip"}, "--format zip");
  expect_error(kiln_run("quantize " + model + " " + out + " --preset avx9000"), 3, {"avx9000"}, "unknown preset");
  expect_error(kiln_run("quantize " + model + " " + out + " --calibration-data x.json"), 3, {"--static"},
               "calibration data without --static");
  expect_error(kiln_run("quantize " + model + " " + model), 3, {"overwrite"}, "quantize onto its input");
  EXPECT_FALSE(fs::exists(out));
  // Conformance: a folder without any test in it.
  fs::create_directories(d / "no-tests");
  expect_error(kiln_run("conformance " + (d / "no-tests").string()), 3, {(d / "no-tests").string()},
               "conformance on a folder with no tests");
  fs::remove_all(d);
}

TEST(CliErrors, UnsupportedExitsFour) {
  fs::path d = temp_dir("errors-unsupported");
  fs::path model = external_model(d);
  ASSERT_EQ(kiln_run("inspect " + model.string()).code, 0);  // as saved, kiln reads it
  edit_model(model, [](onnx::ModelProto& mp) { mp.mutable_opset_import(0)->set_version(22); });
  expect_error(kiln_run("inspect " + model.string()), 4, {"opset 22"}, "inspect opset 22");
  expect_error(kiln_run("quantize " + model.string() + " " + (d / "q.onnx").string()), 4, {"opset 22"},
               "quantize opset 22");
  edit_model(model, [](onnx::ModelProto& mp) {
    mp.mutable_opset_import(0)->set_version(17);
    mp.mutable_graph()->mutable_node(0)->set_op_type("NoSuchOp");
  });
  NamedTensors feeds;
  feeds["x"] = Tensor::from_vector<float>({2048}, std::vector<float>(2048, 0.5f));
  write_file_atomic((d / "in.json").string(), tensors_to_json_text(feeds));
  expect_error(kiln_run("exec " + model.string() + " --inputs " + (d / "in.json").string()), 4, {"NoSuchOp"},
               "exec an op kiln has no kernel for");
  // An element type kiln does not hold (COMPLEX64 = 14).
  edit_model(model, [](onnx::ModelProto& mp) {
    mp.mutable_graph()->mutable_node(0)->set_op_type("Add");
    mp.mutable_graph()->mutable_initializer(0)->set_data_type(onnx::TensorProto::COMPLEX64);
  });
  expect_error(kiln_run("inspect " + model.string()), 4, {"'w'", "element type 14"}, "inspect complex64");
  // A checkpoint of an architecture the exporter does not know.
  std::ofstream(d / "config.json") << R"({"model_type": "no-such-architecture"})";
  expect_error(kiln_run("export " + (d / "config.json").string() + " " + (d / "o").string() + " --random-weights"),
               4, {"no-such-architecture"}, "export an unknown architecture");
  fs::remove_all(d);
}

TEST(CliErrors, InputOutputFailuresExitFive) {
  fs::path d = temp_dir("errors-io");
  std::string model = test::fixture("models/bert-tiny/model.onnx");
  std::string inputs = test::fixture("models/bert-tiny/ref/case0_inputs.json");
  std::string missing = (d / "missing").string();
  // A regular file where a folder should be: no user, root included, can write beneath it.
  std::ofstream(d / "file") << "x";
  std::string blocked = (d / "file" / "out").string();
  expect_error(kiln_run("inspect " + missing + ".onnx"), 5, {missing + ".onnx"}, "inspect a missing file");
  expect_error(kiln_run("exec " + missing + ".onnx --inputs " + inputs), 5, {missing + ".onnx"},
               "exec a missing model");
  expect_error(kiln_run("exec " + model + " --inputs " + missing + ".json"), 5, {missing + ".json"},
               "exec with missing inputs");
  expect_error(kiln_run("exec " + model + " --inputs " + inputs + " --output " + blocked + ".json"), 5,
               {blocked + ".json"}, "exec --output where no file can be written");
  expect_error(kiln_run("tokenize " + missing, "hello\n"), 5, {missing}, "tokenize a missing folder");
  expect_error(kiln_run("conformance " + missing), 5, {missing}, "conformance on a missing folder");
  expect_error(kiln_run("export " + missing + " " + (d / "o").string()), 5, {missing}, "export a missing checkpoint");
  std::ofstream(d / "config.json") << read_file(test::fixture("models/distilbert-tiny/config.json"));
  expect_error(kiln_run("export " + (d / "config.json").string() + " " + blocked + " --random-weights"), 5, {blocked},
               "export where no folder can be made");
  // A message that would span lines (here a file name with a line break in it) is folded onto one.
  expect_error(kiln_run("inspect '" + (d / "two\nlines.onnx").string() + "'"), 5, {"two; lines.onnx"},
               "a missing file whose name has a line break");
  expect_error(kiln_run("quantize " + missing + ".onnx " + (d / "q.onnx").string()), 5, {missing + ".onnx"},
               "quantize a missing file");
  expect_error(kiln_run("quantize " + model + " " + blocked + ".onnx"), 5, {(d / "file").string()},
               "quantize where no file can be written");
  fs::remove_all(d);
}

TEST(CliErrors, InternalErrorsExitSeventyThroughTheTestHook) {
  std::string model = test::fixture("models/bert-tiny/model.onnx");
  ASSERT_EQ(kiln_run("inspect " + model).code, 0);
  KilnRun r = kiln_run("inspect " + model, "", "KILN_TEST_INTERNAL_ERROR=1");
  expect_error(r, 70, {"KILN_TEST_INTERNAL_ERROR"}, "test hook");
  EXPECT_EQ(r.out, "");  // it fails before the command runs
  expect_error(kiln_run("tokenize " + model, "", "KILN_TEST_INTERNAL_ERROR=yes"), 70, {"KILN_TEST_INTERNAL_ERROR"},
               "test hook on another command");
}

TEST(CliErrors, InspectRefusesBadExternalData) {
  fs::path d = temp_dir("errors-external");
  fs::create_directories(d / "model");
  fs::path model = external_model(d / "model");
  ASSERT_EQ(kiln_run("inspect " + model.string()).code, 0);  // as saved
  // Metadata that is wrong: exit 2, naming the value.
  for (std::string off : {"36x448", "-1", "+0", "99999999999999999999", ""}) {
    set_external_entry(model, "offset", off);
    expect_error(kiln_run("inspect " + model.string()), 2, {"offset '" + off + "'"}, "offset '" + off + "'");
  }
  set_external_entry(model, "offset", "0");
  set_external_entry(model, "length", "8192x");
  expect_error(kiln_run("inspect " + model.string()), 2, {"length '8192x'"}, "length '8192x'");
  set_external_entry(model, "length", "8192");
  for (std::string off : {"4", "8192", "9223372036854775807"}) {  // w.bin holds 8192 bytes, all of them needed
    set_external_entry(model, "offset", off);
    expect_error(kiln_run("inspect " + model.string()), 2, {"does not fit w.bin"}, "offset " + off);
  }
  set_external_entry(model, "offset", "0");
  fs::copy_file(d / "model" / "w.bin", d / "w.bin");
  fs::create_symlink(d / "w.bin", d / "model" / "link.bin");
  for (std::string loc : {std::string("../w.bin"), std::string("link.bin"), (d / "w.bin").string()}) {
    set_external_entry(model, "location", loc);
    expect_error(kiln_run("inspect " + model.string()), 2, {"'" + loc + "'"}, "location " + loc);
  }
  // A data file that cannot be read: exit 5.
  set_external_entry(model, "location", "missing.bin");
  expect_error(kiln_run("inspect " + model.string()), 5, {"missing.bin"}, "missing data file");
  set_external_entry(model, "location", "w.bin");
  ASSERT_EQ(kiln_run("inspect " + model.string()).code, 0);  // and repaired, it loads again
  fs::remove_all(d);
}

// kiln export: a task the architecture lacks and an unknown architecture are refused in one line
// that lists what can be chosen; a good export prints its files, sizes and parameters.
TEST(CliErrors, ExportNamesTheChoices) {
  fs::path d = temp_dir("errors-export");
  std::ofstream(d / "config.json") << R"({"model_type": "bert", "vocab_size": 50, "hidden_size": 8,
    "num_attention_heads": 2, "intermediate_size": 16, "num_hidden_layers": 1, "max_position_embeddings": 16})";
  std::string cfg = (d / "config.json").string();
  expect_error(kiln_run("export " + cfg + " " + (d / "o").string() + " --random-weights --task text-generation"), 4,
               {"'text-generation'", "feature-extraction, text-classification, token-classification, "
                                     "question-answering, fill-mask"},
               "export bert for text generation");
  expect_error(kiln_run("export " + cfg + " " + (d / "o").string() + " --random-weights --task summarize"), 3,
               {"--task summarize", "text-classification"}, "export for a task nobody has");
  std::ofstream(d / "other.json") << R"({"model_type": "funnel"})";
  expect_error(kiln_run("export " + (d / "other.json").string() + " " + (d / "o").string() + " --random-weights"), 4,
               {"'funnel'", "albert", "bert", "camembert", "distilbert", "electra", "roberta", "xlm-roberta"},
               "export an architecture kiln lacks");
  EXPECT_FALSE(fs::exists(d / "o"));
  KilnRun ok = kiln_run("export " + cfg + " " + (d / "o").string() + " --random-weights --task fill-mask --opset 13");
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("exported bert (fill-mask, opset 13)"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("parameters"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("model.onnx"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("config.json"), std::string::npos) << ok.out;
  fs::remove_all(d);
}

}  // namespace
