// Setting up a training run, before the loop (trainer.cpp) starts: the checks of the options,
// the choice between a new run and a resume (and the resume policy of train_options.h), the
// tokenizer and the shards it must match, the model configuration, the run length and LR
// schedule (resolved once and stored, so a resume continues the same schedule), and where the
// initial parameters come from. It exists so the loop holds only the loop; every check of an
// input happens here, in the order the messages are documented in (a refused run leaves no OUT).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "tokenizer/tokenizer.h"
#include "train/backend.h"
#include "store/checkpoint.h"
#include "train/data_loader.h"
#include "train/lr_schedule.h"
#include "train/train_options.h"

namespace tlm {

namespace dist {
class Communicator;
}

struct RunSetup {
  // The options after the resume policy, with rank, world, steps, warmup and min_lr resolved,
  // and comm set (to own_comm for one process).
  TrainOptions opt;
  std::unique_ptr<dist::Communicator> own_comm;
  std::optional<CheckpointEntry> checkpoint;  // the one a resumed run continues from
  CheckpointInfo checkpoint_info;
  std::string tokenizer_path;                  // the checkpoint's copy when resuming, else --tokenizer
  std::string tokenizer_text;                  // tokenizer.json as read (copied into each checkpoint)
  std::string vocab_hash, tokenizer_file_hash; // XXH3 of its vocabulary (the shards name it) and of the file
  Tokenizer tokenizer;
  int32_t eos = 0;
  TokenDataset train_data, val_data;
  std::vector<TokenDataset> replay_data;  // --replay: each DIR's train split, in option order
  ModelConfig config;
  int64_t tokens_per_step = 0;  // all ranks
  LrSchedule schedule;
  InitialModel initial;          // init(seed), the checkpoint's files or the --init-from weights
  // --init-from's model as state.json records it ({"path", "params_xxh3"}; null for a run from
  // scratch), carried on by every checkpoint of the run.
  nlohmann::json init_source;
};

// Checks everything a run needs and resolves it (UserError naming the flag or file otherwise).
// Collective when resuming (rank 0 chooses the checkpoint). Creates nothing. `initial` is where
// a new run's parameters come from (default: init(opt.seed)); a resumed run always continues
// from its checkpoint.
std::unique_ptr<RunSetup> set_up_run(TrainOptions options, const std::set<std::string>& given,
                                     const std::optional<InitialModel>& initial = std::nullopt);

}  // namespace tlm
