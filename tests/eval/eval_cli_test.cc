// kiln eval, kiln bench DIR and kiln report end to end on distilbert-tiny-vocab with the real
// bert-base-uncased tokenizer files (../shared/data/tokenizers). The gold labels are the
// transformers reference predictions (ref/e2e_expected.jsonl) with every third one changed, as the
// acceptance check makes them, so the exact accuracy is known without running kiln.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "graph/onnx_io.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> kLabels = {"negative", "neutral", "positive"};  // the fixture's config.json

bool have_tokenizer() { return !kiln::test::shared_path("data/tokenizers/bert-base-uncased").empty(); }

// The fixture's files (its graph saved with external data when `external`) plus the tokenizer files.
fs::path model_folder(const fs::path& d, bool external = false) {
  fs::create_directories(d);
  for (auto& e : fs::directory_iterator(kiln::test::fixture("models/distilbert-tiny-vocab")))
    if (e.is_regular_file() && e.path().filename() != "tokenizer.txt") fs::copy_file(e.path(), d / e.path().filename());
  for (auto& e : fs::directory_iterator(kiln::test::shared_path("data/tokenizers/bert-base-uncased")))
    if (e.path().filename() != "expected.jsonl") fs::copy_file(e.path(), d / e.path().filename());
  if (external) {
    kiln::Model m = kiln::load_model((d / "model.onnx").string());
    kiln::SaveOptions so;
    so.external_data = true;
    kiln::save_model(m, (d / "model.onnx").string(), so);
  }
  return d;
}

struct Gold {
  std::vector<std::pair<std::string, std::string>> rows;  // text, label
  size_t right = 0;
};

Gold gold_data() {
  Gold g;
  std::ifstream in(kiln::test::fixture("models/distilbert-tiny-vocab/ref/e2e_expected.jsonl"));
  size_t i = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json x = json::parse(line);
    std::string text = x["text"];
    if (x["n_tokens_untruncated"].get<int>() > 128 || text.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    std::string label = x["label"];
    if (i % 3 == 2) {
      size_t k = std::find(kLabels.begin(), kLabels.end(), label) - kLabels.begin();
      label = kLabels[(k + 1) % kLabels.size()];
    }
    if (label == x["label"]) ++g.right;
    g.rows.push_back({text, label});
    ++i;
  }
  return g;
}

std::string write_jsonl(const fs::path& p, const Gold& g, bool ids = false) {
  std::ofstream out(p);
  for (auto& [t, l] : g.rows) {
    json j = {{"text", t}};
    if (ids) j["label"] = std::find(kLabels.begin(), kLabels.end(), l) - kLabels.begin();
    else j["label"] = l;
    out << j.dump() << "\n";
  }
  return p.string();
}

std::string csv_field(const std::string& s) {
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::string run(const std::string& args, int* code) {
  std::string out;
  *code = kiln::test::run_command(kiln::test::kiln_binary() + " " + args + " 2>&1", &out);
  return out;
}

json last_json(const std::string& out) {
  std::string t = out;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return json::parse(t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1));
}

int64_t bytes(const fs::path& p) { return (int64_t)fs::file_size(p); }

}  // namespace

TEST(EvalCli, AccuracyIsExactlyTheKnownOneFromJsonlCsvAndLabelIds) {
  KILN_REQUIRE(have_tokenizer(), "../shared/data/tokenizers/bert-base-uncased");
  kiln::test::ScratchDir d;
  fs::path m = model_folder(d.path / "m");
  Gold g = gold_data();
  ASSERT_GT(g.rows.size(), 10u);
  const double want = (double)g.right / g.rows.size();
  std::string csv = (d.path / "gold.csv").string();
  {
    std::ofstream out(csv, std::ios::binary);
    out << "text,label\r\n";
    for (auto& [t, l] : g.rows) out << csv_field(t) << "," << l << "\r\n";
  }
  for (std::string data : {write_jsonl(d.path / "gold.jsonl", g), write_jsonl(d.path / "ids.jsonl", g, true), csv}) {
    int code = 0;
    std::string out = run("eval " + m.string() + " --data " + data + " --task text-classification --json --batch-size 3", &code);
    ASSERT_EQ(code, 0) << out;
    json j = last_json(out);
    EXPECT_NEAR(j["accuracy"].get<double>(), want, 1e-12) << data;
    EXPECT_EQ(j["samples"].get<size_t>(), g.rows.size());
    EXPECT_GT(j["samples_per_s"].get<double>(), 0);
    // The confusion matrix holds every example; its diagonal is the right ones.
    ASSERT_EQ(j["confusion"]["labels"], json(kLabels));
    int64_t total = 0, diag = 0;
    for (size_t a = 0; a < 3; ++a)
      for (size_t b = 0; b < 3; ++b) total += j["confusion"]["counts"][a][b].get<int64_t>(), diag += a == b ? j["confusion"]["counts"][a][b].get<int64_t>() : 0;
    EXPECT_EQ(total, (int64_t)g.rows.size());
    EXPECT_EQ(diag, (int64_t)g.right);
  }
  // Plain output: the metrics, the matrix and the speed.
  int code = 0;
  std::string out = run("eval " + m.string() + " --data " + csv + " --limit 5", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("accuracy: "), std::string::npos) << out;
  EXPECT_NE(out.find("f1 (macro): "), std::string::npos) << out;
  EXPECT_NE(out.find("confusion (rows: gold, columns: predicted)"), std::string::npos) << out;
  EXPECT_NE(out.find("samples: 5 in "), std::string::npos) << out;
}

TEST(EvalCli, BadInputIsOneLineNamingFileLineAndColumn) {
  KILN_REQUIRE(have_tokenizer(), "../shared/data/tokenizers/bert-base-uncased");
  kiln::test::ScratchDir d;
  fs::path m = model_folder(d.path / "m");
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream(d.path / name, std::ios::binary) << text;
    return (d.path / name).string();
  };
  struct Case {
    std::string data, want;
  };
  std::string unknown = file("u.jsonl", "{\"text\": \"a\", \"label\": \"positive\"}\n{\"text\": \"b\", \"label\": \"great\"}\n");
  std::string missing = file("m.csv", "sentence,gold\nhello,positive\n");
  std::string empty = file("e.jsonl", "");
  std::string format = file("f.xml", "<data/>\n");
  std::string bad_id = file("i.jsonl", "{\"text\": \"a\", \"label\": 3}\n");
  std::vector<Case> cases = {
      {unknown, unknown + ": line 2, column 'label': label 'great' is not one the model knows (negative, neutral, "
                          "positive, or their ids 0-2)"},
      {bad_id, bad_id + ": line 1, column 'label': label '3' is not one the model knows (negative, neutral, positive, "
                        "or their ids 0-2)"},
      {missing, missing + ": line 1 (header): no column 'label' (columns: sentence, gold); name the right one with "
                          "--label-column"},
      {empty, empty + ": line 1: the data file is empty; give one example per line (JSON lines) or a header and rows "
                      "(CSV/TSV)"},
      {format, format + ": line 1: unknown data format (extension '.xml'); give JSON lines (.jsonl), .csv or .tsv"},
  };
  for (const auto& c : cases) {
    int code = 0;
    std::string out = run("eval " + m.string() + " --data " + c.data + " --task text-classification", &code);
    EXPECT_EQ(code, 3) << out;
    EXPECT_EQ(out, "kiln: error: " + c.want + "\n");
  }
}

TEST(EvalCli, BenchFolderJsonFieldsArePositiveAndGraphFormStillWorks) {
  KILN_REQUIRE(have_tokenizer(), "../shared/data/tokenizers/bert-base-uncased");
  kiln::test::ScratchDir d;
  fs::path m = model_folder(d.path / "m");
  int code = 0;
  std::string out = run("bench " + m.string() + " --task text-classification --batch-size 2 --seq-len 32 --samples 8 --json", &code);
  ASSERT_EQ(code, 0) << out;
  json j = last_json(out);
  for (const char* k : {"load_ms", "min_ms", "median_ms", "p90_ms", "samples_per_s", "peak_rss_mb", "batch_size", "seq_len", "threads"})
    EXPECT_GT(j.value(k, 0.0), 0.0) << k << " in " << j.dump();
  EXPECT_EQ(j["batch_size"], 2);
  EXPECT_EQ(j["seq_len"], 32);
  EXPECT_EQ(j["batches"], 4);
  EXPECT_EQ(j["input"], "text");  // a text of exactly 32 tokens was found
  EXPECT_LE(j["min_ms"].get<double>(), j["median_ms"].get<double>());
  EXPECT_LE(j["median_ms"].get<double>(), j["p90_ms"].get<double>());
  // From data instead of synthetic inputs.
  std::string data = write_jsonl(d.path / "gold.jsonl", gold_data());
  out = run("bench " + m.string() + " --data " + data + " --samples 4 --json", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_GT(last_json(out)["samples_per_s"].get<double>(), 0);
  // The single-graph form.
  std::string bert = kiln::test::fixture("models/bert-tiny");
  out = run("bench " + bert + "/model.onnx --inputs " + bert + "/ref/case0_inputs.json --repeat 3 --warmup 1 --json", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_GT(last_json(out)["median_ms"].get<double>(), 0);
}

TEST(EvalCli, ReportRowsCarryFolderSizesMetricAndRatios) {
  KILN_REQUIRE(have_tokenizer(), "../shared/data/tokenizers/bert-base-uncased");
  kiln::test::ScratchDir d;
  fs::path a = model_folder(d.path / "a"), b = model_folder(d.path / "b", true);
  ASSERT_TRUE(fs::exists(b / "model.onnx.data"));
  // What the pipeline reads, stat'ed here: graph (+ external data), config, tokenizer files.
  auto common = [&](const fs::path& f) {
    return bytes(f / "config.json") + bytes(f / "tokenizer.json") + bytes(f / "tokenizer_config.json") + bytes(f / "vocab.txt");
  };
  const int64_t size_a = bytes(a / "model.onnx") + common(a);
  const int64_t size_b = bytes(b / "model.onnx") + bytes(b / "model.onnx.data") + common(b);
  Gold g = gold_data();
  std::string data = write_jsonl(d.path / "gold.jsonl", g);
  std::string html = (d.path / "report.html").string();
  int code = 0;
  std::string out = run("report " + a.string() + " " + b.string() + " --data " + data +
                            " --task text-classification --samples 8 --json --html " + html,
                        &code);
  ASSERT_EQ(code, 0) << out;
  json j = last_json(out);
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["size_bytes"].get<int64_t>(), size_a);
  EXPECT_EQ(j["rows"][1]["size_bytes"].get<int64_t>(), size_b);
  EXPECT_NEAR(j["rows"][1]["size_ratio"].get<double>(), (double)size_b / size_a, 1e-12);
  EXPECT_DOUBLE_EQ(j["rows"][0]["speedup"].get<double>(), 1.0);
  for (const auto& r : j["rows"]) {
    EXPECT_NEAR(r["accuracy"].get<double>(), (double)g.right / g.rows.size(), 1e-12);
    EXPECT_GT(r["ms_total"].get<double>(), 0);
    EXPECT_NEAR(r["ms_per_sample"].get<double>(), r["ms_total"].get<double>() / 8, 1e-9);
  }
  for (const char* k : {"cpu", "isa", "vnni", "amx", "threads"}) EXPECT_TRUE(j.contains(k)) << k;
  std::string page = kiln::read_file(html);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  size_t svgs = 0, rows = 0;
  for (size_t p = page.find("<svg"); p != std::string::npos; p = page.find("<svg", p + 1)) ++svgs;
  for (size_t p = page.find("<tr><td>"); p != std::string::npos; p = page.find("<tr><td>", p + 1)) ++rows;
  EXPECT_EQ(svgs, 3u);  // size, metric, time
  EXPECT_EQ(rows, 2u);  // one per folder
  EXPECT_NE(page.find("</html>"), std::string::npos);
  // The Markdown table: header, rule, one line per folder.
  out = run("report " + a.string() + " --data " + data + " --samples 2", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("| folder | size | size ratio | accuracy |"), std::string::npos) << out;
  EXPECT_NE(out.find("| " + a.string() + " | "), std::string::npos) << out;
}

TEST(EvalCli, TokenizerNamedByTokenizerTxtIsUsedAndCounted) {
  KILN_REQUIRE(have_tokenizer(), "../shared/data/tokenizers/bert-base-uncased");
  kiln::test::ScratchDir d;
  fs::path m = d.path / "m", tok = d.path / "tok";
  fs::create_directories(m);
  fs::create_directories(tok);
  for (const char* f : {"model.onnx", "config.json"})
    fs::copy_file(kiln::test::fixture("models/distilbert-tiny-vocab/") + f, m / f);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "vocab.txt"})
    fs::copy_file(kiln::test::shared_path("data/tokenizers/bert-base-uncased/") + f, tok / f);
  std::ofstream(m / "tokenizer.txt") << "use ../tok\n";  // as the fixtures write it
  Gold g = gold_data();
  std::string data = write_jsonl(d.path / "gold.jsonl", g);
  int code = 0;
  std::string out = run("report " + m.string() + " --data " + data + " --samples 2 --json", &code);
  ASSERT_EQ(code, 0) << out;
  json row = last_json(out)["rows"][0];
  EXPECT_NEAR(row["accuracy"].get<double>(), (double)g.right / g.rows.size(), 1e-12);
  EXPECT_EQ(row["size_bytes"].get<int64_t>(), bytes(m / "model.onnx") + bytes(m / "config.json") +
                                                  bytes(tok / "tokenizer.json") + bytes(tok / "tokenizer_config.json") +
                                                  bytes(tok / "vocab.txt"));
}
