// `tweetlm export`: a trained model in a format other tools load. --format gguf writes one
// llama.cpp GGUF file (src/infer/export_gguf.h), matrices f32 or f16.
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/check.h"
#include "core/log.h"
#include "infer/export_gguf.h"
#include "infer/model_loader.h"

namespace tlm::cli {

namespace {

struct ExportArgs {
  std::string model, format = "gguf", output, type = "f32", tokenizer;
};

int run_export(const ExportArgs& a) {
  if (a.format != "gguf") throw user_error("--format", "unknown format '%s' (supported: gguf)", a.format.c_str());
  GgufExportOptions opt;
  if (a.type == "f32") opt.type = GgmlType::f32;
  else if (a.type == "f16") opt.type = GgmlType::f16;
  else throw user_error("--type", "unknown type '%s' (supported: f32, f16)", a.type.c_str());
  LoadedModel lm = load_model(a.model, a.tokenizer);
  export_gguf(*lm.model, lm.tokenizer, a.output, opt);
  log_info("export: %s (%s) -> %s", lm.dir.c_str(), a.type.c_str(), a.output.c_str());
  return 0;
}

}  // namespace

Runner add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Export a trained model for other tools (GGUF for llama.cpp)");
  auto a = std::make_shared<ExportArgs>();
  cmd->add_option("-m,--model", a->model,
                  "Checkpoint directory, training output directory (its newest valid checkpoint) or model directory")
      ->required();
  cmd->add_option("--format", a->format, "Output format: gguf")->capture_default_str();
  cmd->add_option("-o,--output", a->output, "Output file")->required();
  cmd->add_option("--type", a->type, "Matrix weight type: f32 or f16 (norms stay f32)")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json to use instead of the model directory's");
  return [a] { return run_export(*a); };
}

}  // namespace tlm::cli
