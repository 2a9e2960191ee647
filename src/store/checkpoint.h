// Checkpoint directories: OUT/step_00000100/ holding
//   model.safetensors      parameters, HF Llama tensor names (save_params)
//   optimizer.safetensors  AdamW moments "m.<name>" / "v.<name>" and the update count
//   state.json             step, data position, RNG, model config, tokenizer hash, world size,
//                          the training options (what --resume needs to continue bit for bit)
//   config.json            the HF LlamaConfig, so the directory is a loadable HF model
//   tokenizer.json         the tokenizer the model was trained with (eval/generate need only -m)
//   manifest.json          size and XXH3-64 of every other file; written last
//
// Crash safety: everything is written into OUT/.tmp-step_00000100/, every file is fsynced, the
// manifest is written, the directory is fsynced and renamed to its final name, and OUT is
// fsynced. A directory named step_* therefore either is complete or was damaged afterwards;
// verify_checkpoint tells which by re-hashing every file against the manifest, and --resume
// takes the newest checkpoint that verifies. Names starting with '.' are never checkpoints, so
// a killed save leaves only a temporary that the next run removes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/config.h"

namespace tlm {

// "step_00000100" (at least 8 digits; names sort by step up to 10^8 steps, and listing parses
// the number, so order is right beyond that too).
std::string checkpoint_name(int64_t step);

struct CheckpointEntry {
  int64_t step = 0;
  std::string path;
};

// Directories OUT/step_<digits>, ascending by step (not verified).
std::vector<CheckpointEntry> list_checkpoints(const std::string& out_dir);

// Empty when `dir` has a manifest listing at least the required files and every listed file
// exists with the recorded size and XXH3; otherwise what is wrong, in a few words.
std::string verify_checkpoint(const std::string& dir);

// The newest checkpoint of OUT that verifies (log_warn for each newer one skipped, when warn).
std::optional<CheckpointEntry> find_latest_checkpoint(const std::string& out_dir, bool warn = true);

// -m for eval and generate: a checkpoint directory (verified) or a run directory (its newest
// valid checkpoint). UserError naming `path` otherwise.
std::string resolve_checkpoint(const std::string& path);

// Writes one checkpoint. Create it, write each file at file(name), then commit().
class CheckpointWriter {
 public:
  CheckpointWriter(std::string out_dir, int64_t step);
  ~CheckpointWriter();  // without commit(), the temporary directory is removed
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  std::string file(const std::string& name) const;
  // Hashes and fsyncs every file, writes manifest.json, fsyncs and renames the directory into
  // place (replacing a checkpoint of the same step) and fsyncs OUT. Returns the final path.
  std::string commit();

 private:
  std::string out_dir_, name_, tmp_;
  bool committed_ = false;
};

// Removes all but the newest `keep` checkpoints (keep <= 0: keep all). Each is renamed to a
// hidden name first, so a crash in the middle never leaves a half-deleted step_* directory.
void prune_checkpoints(const std::string& out_dir, int keep);
// Removes checkpoint directories with a step above `step` (an abandoned future: --resume only
// continues from `step` when every newer one failed to verify).
void remove_checkpoints_after(const std::string& out_dir, int64_t step);
// Removes what killed runs left in OUT: .tmp-step_* and .trash-* directories.
void remove_stale_temporaries(const std::string& out_dir);

// What eval and generate read from a checkpoint directory.
struct CheckpointInfo {
  std::string dir;
  int64_t step = 0;
  ModelConfig config;
  nlohmann::json state;  // state.json
  std::string model_path, tokenizer_path;
};
CheckpointInfo read_checkpoint(const std::string& dir);

// The files every checkpoint has (verify_checkpoint requires them in the manifest).
const std::vector<std::string>& checkpoint_required_files();

}  // namespace tlm
