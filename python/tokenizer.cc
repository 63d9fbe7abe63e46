// kiln.Tokenizer: Hugging Face tokenizers' semantics (include/kiln/tokenizer.h). encode/decode as
// `tokenizers` has them, and a transformers-style call that gives numpy feeds for a Session.
#include <memory>
#include <optional>

#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/error.h"
#include "kiln/tokenizer.h"

namespace kiln::python {

namespace {

std::optional<TruncationOptions> truncation_of(py::handle truncation, std::optional<size_t> max_length,
                                               const Tokenizer& tok) {
  bool on = false;
  TruncationOptions t;
  if (py::isinstance<py::bool_>(truncation)) {
    on = truncation.cast<bool>();
  } else if (py::isinstance<py::str>(truncation)) {
    std::string s = truncation.cast<std::string>();
    on = s != "do_not_truncate";
    if (on) t.strategy = s;
  } else if (!truncation.is_none()) {
    throw BadInput("truncation takes True/False or a strategy name (longest_first, only_first, only_second)");
  }
  if (!on) return std::nullopt;
  t.max_length = max_length ? *max_length : tok.model_max_length().value_or(512);
  return t;
}

std::optional<PaddingOptions> padding_of(py::handle padding, std::optional<size_t> max_length) {
  PaddingOptions p;
  if (py::isinstance<py::bool_>(padding)) {
    if (!padding.cast<bool>()) return std::nullopt;
  } else if (py::isinstance<py::str>(padding)) {
    std::string s = padding.cast<std::string>();
    if (s == "do_not_pad") return std::nullopt;
    if (s != "longest" && s != "max_length")
      throw BadInput("padding '" + s + "' is not a strategy; use True, 'longest' or 'max_length'");
    p.strategy = s;
    if (s == "max_length") {
      if (!max_length) throw BadInput("padding='max_length' needs max_length");
      p.max_length = *max_length;
    }
  } else if (!padding.is_none()) {
    throw BadInput("padding takes True/False, 'longest' or 'max_length'");
  }
  return p;
}

// [n][len] int64 rows as one numpy array (rows of equal length) or a list of lists.
py::object rows_out(std::vector<std::vector<int64_t>>&& rows, bool as_numpy) {
  if (!as_numpy) return py::cast(rows);
  size_t len = rows.empty() ? 0 : rows[0].size();
  for (const auto& r : rows)
    if (r.size() != len) throw BadInput("return_tensors='np' needs rows of one length; pass padding=True");
  auto* flat = new std::vector<int64_t>();
  flat->reserve(rows.size() * len);
  for (const auto& r : rows) flat->insert(flat->end(), r.begin(), r.end());
  py::capsule base(flat, [](void* p) { delete static_cast<std::vector<int64_t>*>(p); });
  return py::array_t<int64_t>({(ssize_t)rows.size(), (ssize_t)len}, flat->data(), base);
}

}  // namespace

void bind_tokenizer(py::module_& m) {
  py::class_<Encoding>(m, "Encoding", "One encoded text, as Hugging Face tokenizers' Encoding.")
      .def_readonly("ids", &Encoding::ids)
      .def_readonly("tokens", &Encoding::tokens)
      .def_readonly("type_ids", &Encoding::type_ids)
      .def_readonly("attention_mask", &Encoding::attention_mask)
      .def_readonly("special_tokens_mask", &Encoding::special_tokens_mask)
      .def_readonly("offsets", &Encoding::offsets, "(begin, end) byte offsets of each token in its text")
      .def_readonly("sequence_ids", &Encoding::sequence_ids)
      .def_readonly("overflowing", &Encoding::overflowing)
      .def("__len__", &Encoding::size)
      .def("__repr__", [](const Encoding& e) { return "kiln.Encoding(" + std::to_string(e.size()) + " tokens)"; });

  py::class_<Tokenizer, std::unique_ptr<Tokenizer>>(m, "Tokenizer", R"doc(Text to token ids and back.

    tok = kiln.Tokenizer.from_folder("model_dir")   # tokenizer.json, or vocab.txt / vocab.json+merges.txt / spiece.model
    tok.encode("Hello world").ids
    feeds = tok(["a text", "another"], padding=True, return_tensors="np")   # input_ids, attention_mask
    tok.decode(ids, skip_special_tokens=True))doc")
      .def_static(
          "from_folder",
          [](py::handle dir) {
            std::string d = path_arg(dir);
            py::gil_scoped_release nogil;
            return Tokenizer::from_dir(d);
          },
          py::arg("dir"), "Loads a model folder's tokenizer files.")
      .def_static(
          "from_file",
          [](py::handle path) {
            std::string p = path_arg(path);
            py::gil_scoped_release nogil;
            return Tokenizer::from_json_file(p);
          },
          py::arg("path"), "Loads a tokenizer.json file.")
      .def(
          "encode",
          [](const Tokenizer& t, const std::string& text, std::optional<std::string> pair, bool add_special_tokens) {
            py::gil_scoped_release nogil;
            return pair ? t.encode_pair(text, *pair, add_special_tokens) : t.encode(text, add_special_tokens);
          },
          py::arg("text"), py::arg("pair") = py::none(), py::arg("add_special_tokens") = true)
      .def(
          "encode_batch",
          [](const Tokenizer& t, const std::vector<std::string>& texts, bool add_special_tokens, py::handle truncation,
             py::handle padding, std::optional<size_t> max_length) {
            auto tr = truncation_of(truncation, max_length, t);
            auto pd = padding_of(padding, max_length);
            py::gil_scoped_release nogil;
            return t.encode_batch(texts, add_special_tokens, tr, pd);
          },
          py::arg("texts"), py::arg("add_special_tokens") = true, py::arg("truncation") = false,
          py::arg("padding") = false, py::arg("max_length") = py::none())
      .def(
          "__call__",
          [](const Tokenizer& t, py::handle text, bool add_special_tokens, py::handle padding, py::handle truncation,
             std::optional<size_t> max_length, std::optional<std::string> return_tensors) {
            const bool single = py::isinstance<py::str>(text);
            std::vector<std::string> texts =
                single ? std::vector<std::string>{text.cast<std::string>()} : text.cast<std::vector<std::string>>();
            const bool as_numpy = return_tensors.has_value();
            if (as_numpy && *return_tensors != "np")
              throw BadInput("return_tensors='" + *return_tensors + "': kiln gives numpy arrays only ('np')");
            auto tr = truncation_of(truncation, max_length, t);
            auto pd = padding_of(padding, max_length);
            std::vector<Encoding> enc;
            {
              py::gil_scoped_release nogil;
              enc = t.encode_batch(texts, add_special_tokens, tr, pd);
            }
            std::vector<std::vector<int64_t>> ids, mask, types;
            for (auto& e : enc) {
              ids.push_back(std::move(e.ids));
              mask.push_back(std::move(e.attention_mask));
              types.push_back(std::move(e.type_ids));
            }
            py::dict out;
            if (single && !as_numpy) {
              out["input_ids"] = ids[0], out["attention_mask"] = mask[0];
              if (t.has_type_ids()) out["token_type_ids"] = types[0];
              return out;
            }
            out["input_ids"] = rows_out(std::move(ids), as_numpy);
            out["attention_mask"] = rows_out(std::move(mask), as_numpy);
            if (t.has_type_ids()) out["token_type_ids"] = rows_out(std::move(types), as_numpy);
            return out;
          },
          py::arg("text"), py::kw_only(), py::arg("add_special_tokens") = true, py::arg("padding") = false,
          py::arg("truncation") = false, py::arg("max_length") = py::none(), py::arg("return_tensors") = py::none(),
          "transformers' tokenizer(text): {'input_ids', 'attention_mask'[, 'token_type_ids']}; "
          "return_tensors='np' gives int64 arrays (pad with padding=True).")
      .def(
          "decode",
          [](const Tokenizer& t, const std::vector<int64_t>& ids, bool skip_special_tokens,
             std::optional<bool> clean_up_tokenization_spaces) {
            py::gil_scoped_release nogil;
            return t.decode(ids, skip_special_tokens, clean_up_tokenization_spaces);
          },
          py::arg("ids"), py::arg("skip_special_tokens") = false, py::arg("clean_up_tokenization_spaces") = py::none())
      .def("token_to_id", &Tokenizer::token_to_id, py::arg("token"))
      .def("id_to_token", &Tokenizer::id_to_token, py::arg("id"))
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("pad_token_id", &Tokenizer::pad_token_id)
      .def_property_readonly("mask_token_id", &Tokenizer::mask_token_id)
      .def_property_readonly("mask_token", &Tokenizer::mask_token)
      .def_property_readonly("model_max_length", &Tokenizer::model_max_length)
      .def_property_readonly("has_type_ids", &Tokenizer::has_type_ids);
}

}  // namespace kiln::python
