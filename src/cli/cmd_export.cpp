// `tweetlm export`: a trained model in a format other tools load. --format gguf writes one
// llama.cpp GGUF file (src/store/export_gguf.h), matrices f32, f16, bf16 or q8_0; --format hf a
// Hugging Face LlamaForCausalLM directory (src/store/export_hf.h), f32, f16 or bf16, sharded
// over --max-shard-size. Docs: docs/export.md.
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/output_path.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "infer/sampler.h"
#include "store/export_gguf.h"
#include "store/export_hf.h"
#include "store/model_loader.h"

namespace tlm::cli {

namespace {

struct ExportArgs {
  std::string model, format = "gguf", output, type = "f32", tokenizer, max_shard_size = "2GB";
  bool force = false;
};

int run_export(const ExportArgs& a) {
  // Every flag is checked before the model is read.
  if (a.format == "gguf") {
    GgufExportOptions opt;
    if (a.type == "f32") opt.type = GgmlType::f32;
    else if (a.type == "f16") opt.type = GgmlType::f16;
    else if (a.type == "bf16") opt.type = GgmlType::bf16;
    else if (a.type == "q8_0") opt.type = GgmlType::q8_0;
    else throw user_error("--type", "unknown type '%s' for gguf (supported: f32, f16, bf16, q8_0)", a.type.c_str());
    check_output_file(a.output, "-o names the .gguf file to write; an existing file is replaced");
    LoadedModel lm = load_model(a.model, a.tokenizer);
    if (auto dir = std::filesystem::path(a.output).parent_path(); !dir.empty()) make_dirs(dir.string());
    export_gguf(*lm.model, lm.tokenizer, a.output, opt);
    log_info("export: %s (%s) -> %s", lm.dir.c_str(), a.type.c_str(), a.output.c_str());
    return 0;
  }
  if (a.format == "hf") {
    HfExportOptions opt;
    if (a.type == "f32") opt.dtype = DType::F32;
    else if (a.type == "f16") opt.dtype = DType::F16;
    else if (a.type == "bf16") opt.dtype = DType::BF16;
    else throw user_error("--type", "unknown type '%s' for hf (supported: f32, f16, bf16)", a.type.c_str());
    opt.max_shard_bytes = parse_byte_size(a.max_shard_size, "--max-shard-size");
    opt.force = a.force;
    check_hf_target(a.output, a.force);
    const SamplerOptions s;  // generate's defaults
    opt.generation = {s.temperature, s.top_p, s.min_p, s.repeat_penalty, s.top_k};
    LoadedModel lm = load_model(a.model, a.tokenizer);
    export_hf(*lm.model, lm.tokenizer, a.output, opt);
    log_info("export: %s (%s) -> %s/", lm.dir.c_str(), a.type.c_str(), a.output.c_str());
    return 0;
  }
  throw user_error("--format", "unknown format '%s' (supported: gguf, hf)", a.format.c_str());
}

}  // namespace

Runner add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Export a trained model for other tools (GGUF for llama.cpp, a Hugging Face "
                                           "directory for transformers)");
  auto a = std::make_shared<ExportArgs>();
  cmd->add_option("-m,--model", a->model,
                  "Checkpoint directory, training output directory (its newest valid checkpoint), model directory "
                  "or GGUF file")
      ->required();
  cmd->add_option("--format", a->format, "Output format: gguf (one llama.cpp file) or hf (a Hugging Face "
                                         "LlamaForCausalLM directory)")
      ->capture_default_str();
  cmd->add_option("-o,--output", a->output, "Output file (gguf) or directory (hf)")->required();
  cmd->add_option("--type", a->type, "Weight type: f32, f16, bf16 or q8_0 (gguf: matrices only, norms stay f32; "
                                     "q8_0 needs sizes that are multiples of 32); f32, f16 or bf16 (hf)")
      ->capture_default_str();
  cmd->add_option("--max-shard-size", a->max_shard_size, "hf: split the weights into files of at most this size "
                                                         "(2GB, 500MB, 10KB, 1GiB, ...), with an index")
      ->capture_default_str();
  cmd->add_flag("--force", a->force, "hf: replace an existing non-empty output directory");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json to use instead of the model directory's");
  return [a] { return run_export(*a); };
}

}  // namespace tlm::cli
