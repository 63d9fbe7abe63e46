// The RFC 4180 reader: quotes, doubled quotes, line breaks inside fields, CRLF, line numbers.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/csv.h"

using kiln::eval::parse_csv;

TEST(Csv, PlainFieldsAndEmptyOnes) {
  auto r = parse_csv("a,b,c\n1,,3\n,,\n", ',', "f.csv");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"1", "", "3"}));
  EXPECT_EQ(r[2].fields, (std::vector<std::string>{"", "", ""}));
}

TEST(Csv, QuotesDoubledQuotesAndDelimitersInside) {
  auto r = parse_csv("text,label\n\"hello, world\",pos\n\"she said \"\"hi\"\"\",neg\n\"\",x\n", ',', "f.csv");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"hello, world", "pos"}));
  EXPECT_EQ(r[2].fields, (std::vector<std::string>{"she said \"hi\"", "neg"}));
  EXPECT_EQ(r[3].fields, (std::vector<std::string>{"", "x"}));
}

TEST(Csv, LineBreaksInsideQuotesKeepLineNumbersRight) {
  auto r = parse_csv("text,label\n\"two\nlines\",a\n\"three\r\nlines\nhere\",b\nlast,c", ',', "f.csv");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[1].fields[0], "two\nlines");
  EXPECT_EQ(r[1].line, 2u);
  EXPECT_EQ(r[2].fields[0], "three\r\nlines\nhere");  // inside quotes the bytes stay as written
  EXPECT_EQ(r[2].line, 4u);
  EXPECT_EQ(r[3].line, 7u);
  EXPECT_EQ(r[3].fields, (std::vector<std::string>{"last", "c"}));  // no final line break
}

TEST(Csv, CrlfRecordsBlankLinesAndByteOrderMark) {
  auto r = parse_csv("\xEF\xBB\xBFtext,label\r\n\r\nab,1\r\n\"q\",2\r\n", ',', "f.csv");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].fields, (std::vector<std::string>{"text", "label"}));
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"ab", "1"}));
  EXPECT_EQ(r[1].line, 3u);
  EXPECT_EQ(r[2].fields, (std::vector<std::string>{"q", "2"}));
}

TEST(Csv, TabsAsDelimiter) {
  auto r = parse_csv("text\tlabel\na, b\t\"x\ty\"\n", '\t', "f.tsv");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"a, b", "x\ty"}));
}

TEST(Csv, ErrorsNameFileLineAndColumn) {
  try {
    parse_csv("text,label\nok,1\nbad,\"open\n", ',', "d.csv");
    FAIL() << "no error for an unterminated quote";
  } catch (const kiln::BadInput& e) {
    EXPECT_STREQ(e.what(), "d.csv: line 3, column 5: quoted field is never closed (a \" is missing)");
  }
  try {
    parse_csv("text,label\n\"a\"b,1\n", ',', "d.csv");
    FAIL() << "no error for text after a closing quote";
  } catch (const kiln::BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("d.csv: line 2, column 4: text after a closing quote"), std::string::npos)
        << e.what();
  }
}
