// Small tokenizer.json documents of each model family, for the tokenizer fuzzers.
#pragma once

namespace kiln::fuzz {

inline const char* kWordPieceJson = R"({
  "added_tokens": [{"id": 0, "content": "[UNK]", "special": true}, {"id": 1, "content": "[CLS]", "special": true},
                   {"id": 2, "content": "[SEP]", "special": true}, {"id": 7, "content": "<x>", "lstrip": true, "rstrip": true, "single_word": true, "normalized": true}],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {}},
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 20,
            "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3, "##b": 4, "ab": 5, "\u4e2d": 6, "<x>": 7, "##a": 8}}
})";

inline const char* kByteLevelBpeJson = R"({
  "added_tokens": [{"id": 3, "content": "<s>", "special": true, "normalized": true}],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": "\\s{2,}"}, "content": " "}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
     {"type": "Split", "pattern": {"Regex": "(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
     {"type": "ByteLevel", "add_prefix_space": true, "use_regex": false}, {"type": "Digits", "individual_digits": true}]},
  "post_processor": {"type": "RobertaProcessing", "sep": ["<s>", 3], "cls": ["<s>", 3], "trim_offsets": true},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3, "\u0120": 4, "\u0120a": 5, "c": 6},
            "merges": ["a b", "\u0120 a"], "fuse_unk": true, "byte_fallback": false}
})";

inline const char* kUnigramJson = R"({
  "added_tokens": [{"id": 1, "content": "</s>", "special": true}],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": true, "strip_right": true}, {"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}, {"type": "Prepend", "prepend": "\u2581"}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}, {"type": "Punctuation"}]},
  "post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}], "special_tokens": {}},
  "decoder": {"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "\u2581"}, {"type": "ByteFallback"}, {"type": "Strip", "content": " ", "start": 1, "stop": 1}, {"type": "Fuse"}]},
  "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": true,
            "vocab": [["<unk>", 0], ["</s>", 0], ["\u2581", -1.5], ["a", -2], ["ab", -2.5], ["\u2581a", -1], ["<0x41>", -9], ["<0xC3>", -9]]}
})";

}  // namespace kiln::fuzz
