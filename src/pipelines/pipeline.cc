// kiln::pipeline(): task name -> task pipeline over a model folder; the base class's defaults.
#include "pipelines/pipeline.h"

#include "core/device_registry.h"
#include "core/error.h"
#include "kiln/model_folder.h"
#include "pipelines/tasks.h"

namespace kiln {

std::vector<std::string> pipeline_tasks() {
  return {"text-classification", "sentiment-analysis", "token-classification", "ner", "question-answering",
          "feature-extraction",  "fill-mask",          "text2text-generation", "summarization", "translation",
          "translation_XX_to_YY", "text-generation"};
}

Pipeline::~Pipeline() = default;

static std::string no_call(const std::string& task, const char* call) {
  return fmt::format("the {} pipeline has no {}(); use run_json() or the call of its task", task, call);
}
std::vector<std::vector<LabelScore>> Pipeline::classify(const std::vector<PipelineInput>&) {
  throw Unsupported(no_call(task_, "classify"));
}
std::vector<std::vector<TokenEntity>> Pipeline::tag(const std::vector<PipelineInput>&) {
  throw Unsupported(no_call(task_, "tag"));
}
std::vector<Answer> Pipeline::answer(const std::vector<PipelineInput>&) { throw Unsupported(no_call(task_, "answer")); }
std::vector<std::vector<std::vector<float>>> Pipeline::embed(const std::vector<PipelineInput>&) {
  throw Unsupported(no_call(task_, "embed"));
}
std::vector<std::vector<std::vector<MaskFill>>> Pipeline::fill(const std::vector<PipelineInput>&) {
  throw Unsupported(no_call(task_, "fill"));
}
std::vector<Generation> Pipeline::generate(const std::vector<PipelineInput>&) {
  throw Unsupported(no_call(task_, "generate"));
}
std::vector<Generation> Pipeline::generate(const std::vector<PipelineInput>&, const GenerationOptions&) {
  throw Unsupported(no_call(task_, "generate"));
}

std::unique_ptr<Pipeline> pipeline(const std::string& task, const std::string& model_dir, const PipelineOptions& options) {
  return pipelines::json_pipeline(task, model_dir, options);
}

}  // namespace kiln

namespace kiln::pipelines {

std::vector<std::string> JsonPipeline::run_json(const std::vector<PipelineInput>& inputs) {
  std::vector<std::string> out;
  for (const nlohmann::json& r : run(inputs))
    out.push_back(r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return out;
}

std::unique_ptr<JsonPipeline> json_pipeline(const std::string& task_arg, const std::string& model_dir,
                                            const PipelineOptions& options) {
  // No task: the one config.json's architectures imply, as transformers' pipeline(model=DIR) does.
  const std::string task =
      task_arg.empty() || task_arg == "auto" ? ModelFolder::open(model_dir).require_task() : task_arg;
  const Device device = options.device.empty() ? Device{} : parse_device(options.device);
  require_allocator(device);  // Unsupported now, before any file is read, when this build cannot run there
  auto known = [&] {
    std::string s;
    for (const auto& t : pipeline_tasks()) s += (s.empty() ? "" : ", ") + t;
    return s;
  };
  const bool translation = task == "translation" || (task.rfind("translation_", 0) == 0 && task.find("_to_") != std::string::npos);
  const bool generation = task == "text2text-generation" || task == "summarization" || translation || task == "text-generation";
  const bool encoder = task == "text-classification" || task == "sentiment-analysis" || task == "token-classification" ||
                       task == "ner" || task == "question-answering" || task == "feature-extraction" || task == "fill-mask";
  KILN_CHECK(generation || encoder, BadInput, "unknown task '{}'; kiln knows: {}", task, known());
  auto dir = std::make_unique<ModelDir>(model_dir, options.file, options.threads);
  dir->set_device(device);
  dir->set_run_limits(options.max_tensor_bytes, options.run_timeout_ms);
  dir->set_load_limits({options.max_model_bytes, options.max_subgraph_depth});
  if (task == "text-classification" || task == "sentiment-analysis")
    return std::make_unique<TextClassificationPipeline>(std::move(dir), options);
  if (task == "token-classification" || task == "ner") return std::make_unique<TokenClassificationPipeline>(std::move(dir), options);
  if (task == "question-answering") return std::make_unique<QuestionAnsweringPipeline>(std::move(dir), options);
  if (task == "feature-extraction") return std::make_unique<FeatureExtractionPipeline>(std::move(dir), options);
  if (task == "fill-mask") return std::make_unique<FillMaskPipeline>(std::move(dir), options);
  if (task == "text-generation") return std::make_unique<TextGenerationPipeline>(std::move(dir), options);
  std::string t = task;
  if (task == "translation") {  // the folder's one translation_xx_to_yy entry, if it has exactly one
    auto tsp = dir->config().raw.find("task_specific_params");
    int n = 0;
    if (tsp != dir->config().raw.end() && tsp->is_object())
      for (auto& [k, v] : tsp->items())
        if (k.rfind("translation_", 0) == 0) t = k, ++n;
    if (n != 1) t = task;
  }
  return std::make_unique<Text2TextPipeline>(t, std::move(dir), options);
}

static const Tokenizer* folder_tokenizer(const ModelDir& dir) { return dir.has_tokenizer() ? &dir.tokenizer() : nullptr; }
const Tokenizer* EncoderTask::tokenizer() const { return folder_tokenizer(*dir_); }
const Tokenizer* Text2TextPipeline::tokenizer() const { return folder_tokenizer(*dir_); }
const Tokenizer* TextGenerationPipeline::tokenizer() const { return folder_tokenizer(*dir_); }

}  // namespace kiln::pipelines
