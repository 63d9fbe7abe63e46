// Evaluation metrics. Classification: accuracy, macro F1 from a confusion matrix. Generation:
// exact match and error rates (CER over characters, WER over words, PER over phonemes), each an
// edit distance summed over the corpus divided by the summed reference length (as jiwer does).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::eval {

// Levenshtein distance (insertions, deletions, substitutions each cost 1) between token sequences.
size_t edit_distance(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);

// The Unicode code points of UTF-8 text, each as its own string (invalid bytes stay single bytes).
std::vector<std::string> utf8_chars(const std::string& s);
// Tokens separated by ASCII whitespace (words; phonemes when the text is a phoneme string).
std::vector<std::string> split_whitespace(const std::string& s);

// Corpus-level error rate: sum of edits / sum of reference tokens.
struct ErrorRate {
  size_t edits = 0, ref_tokens = 0;
  void add(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);
  double value() const;  // 0 when there were no reference tokens and no edits
};

// counts[gold][predicted] over `labels`.
struct Confusion {
  std::vector<std::string> labels;
  std::vector<std::vector<int64_t>> counts;

  explicit Confusion(std::vector<std::string> labels);
  void add(size_t gold, size_t predicted);
  int64_t total() const;
  double accuracy() const;
  // Mean F1 over the labels that occur as gold or predicted (a label's F1 is 0 when it has no
  // true positives), as scikit-learn's f1_score(average="macro") computes it.
  double macro_f1() const;
};

// The metrics a task can report, its default first.
std::vector<std::string> task_metrics(bool classification);

}  // namespace kiln::eval
