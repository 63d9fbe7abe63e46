// A small SentencePiece Unigram model (the ModelProto of spiece.model), written field by field, for
// the crafted-files suite and the seed of the SentencePiece fuzzer (fuzz/corpus/spiece_model):
// the repository holds no real .model file, and the real ones are too large to mutate usefully.
// T5's layout: <pad>=0, </s>=1, <unk>=2, then pieces; a precompiled charsmap mapping "A" to "a".
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace kiln::test {

namespace spm {

inline void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char(uint8_t(v) | 0x80);
    v >>= 7;
  }
  out += char(uint8_t(v));
}
inline void key(std::string& out, uint32_t field, uint32_t wire) { varint(out, (uint64_t(field) << 3) | wire); }
inline void bytes_field(std::string& out, uint32_t field, const std::string& b) {
  key(out, field, 2);
  varint(out, b.size());
  out += b;
}
inline void int_field(std::string& out, uint32_t field, int64_t v) {
  key(out, field, 0);
  varint(out, uint64_t(v));
}

// A darts-clone double array with one rule, "A" -> "a": the root's offset is 1, so 'A' (65) sits
// at unit 1 ^ 65 = 64, whose offset 1 leads to the leaf at 65 holding the replacement's offset 0.
inline std::string charsmap_a_to_lower() {
  std::vector<uint32_t> units(66, 0);
  units[0] = 1u << 10;                   // offset 1
  units[64] = (1u << 10) | 0x100u | 65;  // offset 1, has a leaf, label 'A'
  units[65] = 0x80000000u | 0;           // leaf: value 0
  std::string normalized("a\0", 2);
  uint32_t trie_size = uint32_t(units.size() * 4);
  std::string out(4 + trie_size, '\0');
  std::memcpy(out.data(), &trie_size, 4);
  std::memcpy(out.data() + 4, units.data(), trie_size);
  return out + normalized;
}

}  // namespace spm

// with_specs = false: the pieces alone, as a file cut just before its trainer_spec would be.
inline std::string small_spiece_model(bool with_specs = true) {
  // piece, score, type (1 normal, 2 unknown, 3 control)
  const std::vector<std::tuple<std::string, float, int>> pieces = {
      {"<pad>", 0.f, 3},       {"</s>", 0.f, 3},       {"<unk>", 0.f, 2},   {"\xE2\x96\x81", -2.f, 1},
      {"\xE2\x96\x81" "a", -3.f, 1}, {"a", -3.5f, 1}, {"b", -4.f, 1},      {"ab", -3.2f, 1},
      {"\xE2\x96\x81hello", -5.f, 1}, {"hello", -6.f, 1}, {"h", -7.f, 1}, {"e", -7.f, 1},
      {"l", -7.f, 1},          {"o", -7.f, 1},         {"\xE2\x96\x81wor", -6.5f, 1}, {"ld", -6.f, 1},
      {"w", -8.f, 1},          {"r", -8.f, 1},         {"d", -8.f, 1},      {".", -5.f, 1}};
  std::string out;
  for (const auto& [text, score, type] : pieces) {
    std::string p;
    spm::bytes_field(p, 1, text);
    spm::key(p, 2, 5);
    char f[4];
    std::memcpy(f, &score, 4);
    p.append(f, 4);
    spm::int_field(p, 3, type);
    spm::bytes_field(out, 1, p);
  }
  if (!with_specs) return out;
  std::string trainer;
  spm::int_field(trainer, 3, 1);   // model_type UNIGRAM
  spm::int_field(trainer, 40, 2);  // unk_id
  spm::int_field(trainer, 41, -1); // bos_id (none)
  spm::int_field(trainer, 42, 1);  // eos_id
  spm::int_field(trainer, 43, 0);  // pad_id
  spm::bytes_field(out, 2, trainer);
  std::string normalizer;
  spm::bytes_field(normalizer, 1, "test_rules");
  spm::bytes_field(normalizer, 2, spm::charsmap_a_to_lower());
  spm::int_field(normalizer, 3, 1);  // add_dummy_prefix
  spm::bytes_field(out, 3, normalizer);
  return out;
}

}  // namespace kiln::test
