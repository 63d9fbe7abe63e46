// Reading examples from JSON lines, CSV and TSV, and the one-line errors for bad data.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "eval/dataset.h"
#include "test_util.h"

using namespace kiln::eval;

namespace {

DataColumns label_columns() {
  DataColumns c;
  c.expected_defaults = {"label", "labels"};
  c.expected_flag = "--label-column";
  return c;
}

std::string write(const kiln::test::ScratchDir& d, const std::string& name, const std::string& text) {
  std::string p = (d.path / name).string();
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string error_of(const std::string& path, const DataColumns& c) {
  try {
    read_examples(path, c);
  } catch (const kiln::BadInput& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Dataset, JsonLinesWithStringAndIntegerLabels) {
  kiln::test::ScratchDir d;
  auto p = write(d, "d.jsonl", "{\"text\": \"good\", \"label\": \"positive\"}\n\n{\"sentence\": \"x\", \"label\": 2}\n");
  auto ex = read_examples(p, label_columns());
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].text, "good");
  EXPECT_EQ(ex[0].expected, "positive");
  EXPECT_FALSE(ex[0].expected_is_integer);
  EXPECT_EQ(ex[1].line, 3u);
  EXPECT_EQ(ex[1].text, "x");  // "sentence" is a default text column
  EXPECT_EQ(ex[1].expected, "2");
  EXPECT_TRUE(ex[1].expected_is_integer);
}

TEST(Dataset, CsvAndTsvWithNamedColumnsAndPairs) {
  kiln::test::ScratchDir d;
  DataColumns c = label_columns();
  c.text = "premise", c.text_pair = "hypothesis", c.expected = "gold";
  auto csv = write(d, "d.csv", "premise,hypothesis,gold\r\n\"a, \"\"b\"\"\",\"c\nd\",entail\r\n");
  auto ex = read_examples(csv, c);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].text, "a, \"b\"");
  EXPECT_EQ(*ex[0].text_pair, "c\nd");
  EXPECT_EQ(ex[0].expected, "entail");
  EXPECT_EQ(ex[0].line, 2u);
  auto tsv = write(d, "d.TSV", "premise\thypothesis\tgold\nx\ty\t0\n");
  ex = read_examples(tsv, c);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(*ex[0].text_pair, "y");
  EXPECT_TRUE(ex[0].expected_is_integer);
}

TEST(Dataset, LimitAndSniffedJsonLines) {
  kiln::test::ScratchDir d;
  auto p = write(d, "d.txt", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"y\"}\n");
  EXPECT_EQ(read_examples(p, label_columns(), 1).size(), 1u);
  EXPECT_EQ(read_examples(p, label_columns()).size(), 2u);
}

TEST(Dataset, BadDataErrorsNameFileLineAndColumn) {
  kiln::test::ScratchDir d;
  auto empty = write(d, "empty.jsonl", "\n  \n");
  EXPECT_EQ(error_of(empty, label_columns()),
            empty + ": line 1: the data file is empty; give one example per line (JSON lines) or a header and rows (CSV/TSV)");
  auto nolabel = write(d, "nolabel.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"lbl\": \"y\"}\n");
  EXPECT_EQ(error_of(nolabel, label_columns()),
            nolabel + ": line 2: no column 'label' (columns: lbl, text); name the right one with --label-column");
  auto csv = write(d, "d.csv", "text,label\nok,1\nshort\n");
  EXPECT_EQ(error_of(csv, label_columns()),
            csv + ": line 3, column 2 ('label'): missing; the line has 1 field(s), the header 2");
  DataColumns named = label_columns();
  named.expected = "gold";
  EXPECT_EQ(error_of(csv, named),
            csv + ": line 1 (header): no column 'gold' (columns: text, label); name the right one with --label-column");
  auto unknown = write(d, "d.txt", "just some text\n");
  EXPECT_EQ(error_of(unknown, label_columns()),
            unknown + ": line 1: unknown data format (extension '.txt'); give JSON lines (.jsonl), .csv or .tsv");
  auto notjson = write(d, "bad.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n[1, 2]\n");
  EXPECT_NE(error_of(notjson, label_columns()).find(notjson + ": line 2: not a JSON object"), std::string::npos);
  auto number = write(d, "num.jsonl", "{\"text\": 5, \"label\": \"x\"}\n");
  EXPECT_EQ(error_of(number, label_columns()), number + ": line 1, column 'text': expected a string, got 5");
}
