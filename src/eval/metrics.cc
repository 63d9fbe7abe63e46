#include "eval/metrics.h"

#include <algorithm>

namespace kiln::eval {

size_t edit_distance(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  std::vector<size_t> row(hyp.size() + 1), next(hyp.size() + 1);
  for (size_t j = 0; j <= hyp.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= ref.size(); ++i) {
    next[0] = i;
    for (size_t j = 1; j <= hyp.size(); ++j)
      next[j] = std::min({row[j] + 1, next[j - 1] + 1, row[j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1)});
    std::swap(row, next);
  }
  return row[hyp.size()];
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > s.size()) len = 1;
    for (size_t k = 1; k < len; ++k)
      if (((unsigned char)s[i + k] & 0xC0) != 0x80) len = 1;
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

void ErrorRate::add(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  edits += edit_distance(ref, hyp);
  ref_tokens += ref.size();
}

double ErrorRate::value() const {
  if (ref_tokens == 0) return edits == 0 ? 0.0 : 1.0;
  return (double)edits / (double)ref_tokens;
}

Confusion::Confusion(std::vector<std::string> l) : labels(std::move(l)) {
  counts.assign(labels.size(), std::vector<int64_t>(labels.size(), 0));
}

void Confusion::add(size_t gold, size_t predicted) { ++counts.at(gold).at(predicted); }

int64_t Confusion::total() const {
  int64_t n = 0;
  for (const auto& r : counts)
    for (int64_t v : r) n += v;
  return n;
}

double Confusion::accuracy() const {
  int64_t right = 0;
  for (size_t i = 0; i < counts.size(); ++i) right += counts[i][i];
  int64_t n = total();
  return n ? (double)right / (double)n : 0.0;
}

double Confusion::macro_f1() const {
  double sum = 0;
  int used = 0;
  for (size_t k = 0; k < labels.size(); ++k) {
    int64_t tp = counts[k][k], gold = 0, predicted = 0;
    for (size_t j = 0; j < labels.size(); ++j) gold += counts[k][j], predicted += counts[j][k];
    if (gold == 0 && predicted == 0) continue;
    ++used;
    // F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (gold + predicted): 0 without true positives.
    sum += 2.0 * (double)tp / (double)(gold + predicted);
  }
  return used ? sum / used : 0.0;
}

std::vector<std::string> task_metrics(bool classification) {
  if (classification) return {"accuracy", "f1"};
  return {"exact_match", "cer", "wer", "per"};
}

}  // namespace kiln::eval
