// classify: text classification with kiln, built against the installed library.
//
//   classify MODEL_DIR "I loved it" "question<TAB>context" ...
//
// MODEL_DIR holds model.onnx (or onnx/model.onnx), config.json (id2label) and the tokenizer files.
// Prints one line per text: the best label and its score, tab-separated. A text with a tab in it
// is encoded as a sentence pair.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <kiln/error.h>
#include <kiln/pipeline.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR TEXT...\n", argv[0]);
    return 64;
  }
  try {
    kiln::PipelineOptions options;
    options.threads = 1;
    auto classifier = kiln::pipeline("text-classification", argv[1], options);

    std::vector<kiln::PipelineInput> inputs;
    for (int i = 2; i < argc; ++i) {
      std::string text = argv[i];
      kiln::PipelineInput in(text);
      if (size_t tab = text.find('\t'); tab != std::string::npos) {
        in.text = text.substr(0, tab);
        in.text_pair = text.substr(tab + 1);
      }
      inputs.push_back(in);
    }
    for (const auto& labels : classifier->classify(inputs)) {
      const kiln::LabelScore& best = labels.at(0);  // best first
      std::printf("%s\t%.6f\n", best.label.c_str(), best.score);
    }
    return 0;
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "classify: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "classify: %s\n", e.what());
    return 70;
  }
}
