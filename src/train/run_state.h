// The state of a run between steps, and its life on disk: starting a run in OUT (a new one, or
// continuing from the checkpoint set-up chose: the parameters and optimizer state, the data
// position and the counters of skipped steps from state.json), and saving a checkpoint with its
// state.json. It exists so that the format of state.json is written and read in one file, next
// to each other, and the loop only says when to save.
//
// With several ranks, rank 0 alone writes; OUT must be on a filesystem every rank sees (they read
// the checkpoint rank 0 chose when resuming).
#pragma once

#include <cstdint>
#include <string>

#include "train/backend.h"
#include "train/data_loader.h"
#include "train/run_setup.h"

namespace tlm {

struct RunState {
  int64_t step = 0;  // completed steps
  int64_t bad_total = 0, bad_in_row = 0;
};

// The run's data loader: its training split, with the --replay sources mixed in.
DataLoader make_loader(const RunSetup& run);

// Prepares OUT (created, stale temporaries removed), gives the backend its initial model and
// returns where the run continues: step 0 for a new run (whose metrics.jsonl starts empty), or
// the checkpoint's state, with `loader` moved to its data position and what the abandoned part
// of the old run left (newer checkpoints, later metrics) removed. Collective.
RunState start_run(const RunSetup& run, TrainBackend& backend, DataLoader& loader);

// Saves the checkpoint of step st.step (collective: the optimizer state is gathered on rank 0).
// UserError if the parameters or the optimizer state are not finite (the run diverged:
// `last_checkpoint` is named). Returns the checkpoint's path on rank 0, "" elsewhere.
std::string save_checkpoint(const RunSetup& run, TrainBackend& backend, const DataLoader& loader, const RunState& st,
                            const std::string& last_checkpoint);

// OUT/metrics.jsonl.
std::string metrics_path(const RunSetup& run);

}  // namespace tlm
