// The training loop of `tweetlm train`: data loader -> forward/backward with gradient
// accumulation -> global-norm clipping -> AdamW on a warmup + cosine schedule, with periodic
// evaluation, samples, checkpoints, resume and clean stops.
//
// Guarantees (tested in tests/test_train.cpp):
//  - Deterministic: the same options give the same loss curve bit for bit, and a run stopped
//    at any checkpoint and resumed gives exactly the curve of an uninterrupted run (everything
//    that decides a step is in the checkpoint: parameters, AdamW moments and update count, the
//    data position, the counters of skipped steps; random draws are counter-based).
//  - A non-finite loss or gradient norm skips the update (counted, logged); --max-bad-steps in
//    a row abort the run with a UserError. Parameters are checked finite before every save, so
//    no NaN reaches a checkpoint.
//  - SIGINT/SIGTERM finish the current step, save a checkpoint and return normally (a second
//    signal during that save kills the process as usual: the checkpoint protocol keeps the
//    directory valid either way).
//
// Test-only hook: the environment variable TLM_TEST_INJECT_NAN_STEP="3,4" poisons the gradient
// of those (1-based) steps with a NaN, to exercise the skip path end to end. Not for users.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "train/train_options.h"

namespace tlm {

struct TrainResult {
  int64_t first_step = 0;    // the step the run started from (0, or the resumed checkpoint's)
  int64_t step = 0;          // the last completed step
  int64_t total_steps = 0;
  int64_t skipped_steps = 0; // non-finite steps over the whole run (resumed runs included)
  bool stopped_early = false;  // a signal or --stop-after
  double last_loss = 0;
  double last_val_loss = 0;  // NaN when no evaluation ran
  std::string checkpoint;    // the last checkpoint written ("" if none)
};

// Runs (or resumes, with options.resume) a training run in options.out_dir. `given` lists the
// option keys (see options_to_json) the user gave explicitly, for the resume policy.
TrainResult train(TrainOptions options, const std::set<std::string>& given = {});

}  // namespace tlm
