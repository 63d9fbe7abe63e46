// Metrics against values worked out by hand.
#include <gtest/gtest.h>

#include "eval/metrics.h"

using namespace kiln::eval;

TEST(Metrics, EditDistanceOnSmallStrings) {
  // kitten -> sitting: k->s, e->i, insert g = 3.
  EXPECT_EQ(edit_distance(utf8_chars("kitten"), utf8_chars("sitting")), 3u);
  EXPECT_EQ(edit_distance(utf8_chars(""), utf8_chars("abc")), 3u);
  EXPECT_EQ(edit_distance(utf8_chars("abc"), utf8_chars("")), 3u);
  EXPECT_EQ(edit_distance(utf8_chars("flaw"), utf8_chars("lawn")), 2u);  // delete f, insert n
  // Code points, not bytes: "é" is one character (2 bytes), one substitution for "e".
  EXPECT_EQ(utf8_chars("café").size(), 4u);
  EXPECT_EQ(edit_distance(utf8_chars("café"), utf8_chars("cafe")), 1u);
}

TEST(Metrics, CorpusErrorRatesSumEditsOverReferenceLength) {
  // WER: "the cat sat" vs "the cat sit" = 1 substitution / 3 words; "a b" vs "a b c" = 1 insertion
  // / 2 words; corpus WER = (1 + 1) / (3 + 2) = 0.4.
  ErrorRate wer;
  wer.add(split_whitespace("the cat sat"), split_whitespace("the  cat sit "));
  wer.add(split_whitespace("a b"), split_whitespace("a b c"));
  EXPECT_EQ(wer.edits, 2u);
  EXPECT_EQ(wer.ref_tokens, 5u);
  EXPECT_DOUBLE_EQ(wer.value(), 0.4);
  // CER: "abcd" vs "abed" = 1 / 4; "xy" vs "" = 2 / 2; corpus = 3 / 6 = 0.5.
  ErrorRate cer;
  cer.add(utf8_chars("abcd"), utf8_chars("abed"));
  cer.add(utf8_chars("xy"), utf8_chars(""));
  EXPECT_DOUBLE_EQ(cer.value(), 0.5);
  // PER on phoneme strings is WER over whitespace-separated phonemes: "h ə l oʊ" vs "h ɛ l oʊ"
  // = 1 / 4.
  ErrorRate per;
  per.add(split_whitespace("h ə l oʊ"), split_whitespace("h ɛ l oʊ"));
  EXPECT_DOUBLE_EQ(per.value(), 0.25);
}

TEST(Metrics, AccuracyAndMacroF1OnASmallConfusionMatrix) {
  // gold \ predicted   a  b  c
  //               a    3  1  0      a: TP 3, gold 4, predicted 4 -> F1 = 2*3/(4+4) = 0.75
  //               b    1  2  1      b: TP 2, gold 4, predicted 3 -> F1 = 2*2/(4+3) = 4/7
  //               c    0  0  2      c: TP 2, gold 2, predicted 3 -> F1 = 2*2/(2+3) = 0.8
  // accuracy = (3+2+2)/10 = 0.7; macro F1 = (0.75 + 4/7 + 0.8) / 3.
  Confusion c({"a", "b", "c"});
  const int m[3][3] = {{3, 1, 0}, {1, 2, 1}, {0, 0, 2}};
  for (size_t g = 0; g < 3; ++g)
    for (size_t p = 0; p < 3; ++p)
      for (int k = 0; k < m[g][p]; ++k) c.add(g, p);
  EXPECT_EQ(c.total(), 10);
  EXPECT_DOUBLE_EQ(c.accuracy(), 0.7);
  EXPECT_NEAR(c.macro_f1(), (0.75 + 4.0 / 7.0 + 0.8) / 3.0, 1e-12);
}

TEST(Metrics, MacroF1SkipsLabelsNeitherGoldNorPredicted) {
  // Only a and b occur: a F1 = 2*1/(1+2) = 2/3, b F1 = 0 (gold 1, predicted 0); mean = 1/3.
  Confusion c({"a", "b", "unused"});
  c.add(0, 0);
  c.add(1, 0);
  EXPECT_NEAR(c.macro_f1(), 1.0 / 3.0, 1e-12);
}
