// Damaged copies of good files for the crafted-files suite: cut short, replaced by random bytes,
// or with single bits flipped. Everything is drawn from fixed seeds, so every run tries the same
// files and a failure names the variant (its label) that caused it.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace kiln::test {

struct Variant {
  std::string label;  // "cut at 1234", "bit 3 of byte 567", "random 1000 bytes #2"
  std::string bytes;
};

// `count` prefixes of `good`, at lengths spread over the whole file (0 and size-1 included).
inline std::vector<Variant> truncations(const std::string& good, size_t count) {
  std::vector<Variant> out;
  if (good.empty()) return out;
  for (size_t k = 0; k < count; ++k) {
    size_t cut = count == 1 ? 0 : (good.size() - 1) * k / (count - 1);
    out.push_back({"cut at " + std::to_string(cut), good.substr(0, cut)});
  }
  return out;
}

// `count` blobs of random bytes, the first few starting like the real file (its first
// `keep_prefix` bytes) so the parser gets past its magic numbers.
inline std::vector<Variant> random_blobs(const std::string& good, size_t count, size_t keep_prefix, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Variant> out;
  for (size_t k = 0; k < count; ++k) {
    std::string b(64 + rng() % 4096, '\0');
    for (char& c : b) c = char(rng() & 0xFF);
    bool prefixed = k % 2 == 1 && keep_prefix > 0;
    if (prefixed) b.replace(0, std::min(keep_prefix, b.size()), good.substr(0, std::min(keep_prefix, b.size())));
    out.push_back({"random " + std::to_string(b.size()) + " bytes #" + std::to_string(k) + (prefixed ? " (real prefix)" : ""),
                   std::move(b)});
  }
  return out;
}

// `count` copies of `good`, each with one bit flipped at a position drawn from [begin, end).
inline std::vector<Variant> bit_flips(const std::string& good, size_t count, uint32_t seed, size_t begin = 0,
                                      size_t end = SIZE_MAX) {
  std::mt19937 rng(seed);
  end = std::min(end, good.size());
  std::vector<Variant> out;
  if (begin >= end) return out;
  for (size_t k = 0; k < count; ++k) {
    size_t at = begin + rng() % (end - begin);
    int bit = int(rng() % 8);
    std::string b = good;
    b[at] = char(uint8_t(b[at]) ^ (1u << bit));
    out.push_back({"bit " + std::to_string(bit) + " of byte " + std::to_string(at), std::move(b)});
  }
  return out;
}

inline void append(std::vector<Variant>& to, std::vector<Variant> more) {
  for (auto& v : more) to.push_back(std::move(v));
}

}  // namespace kiln::test
