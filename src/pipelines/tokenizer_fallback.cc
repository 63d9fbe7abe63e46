// Until the tokenizers module lands its Tokenizer::from_dir, this weak definition lets pipelines
// link and run on token ids; the real (strong) definition replaces it at link time.
#include "core/error.h"
#include "tokenizers/tokenizer.h"

namespace kiln {

__attribute__((weak)) std::unique_ptr<Tokenizer> Tokenizer::from_dir(const std::string& dir) {
  throw Unsupported("this kiln was built without tokenizers; pass token ids with --input-ids (folder " + dir + ")");
}

}  // namespace kiln
