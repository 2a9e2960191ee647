// Starting, resuming and saving a run (see run_state.h); state.json is written by
// state_json() and read back by read_state(), side by side.
#include "train/run_state.h"

#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "dist/comm.h"
#include "model/llama.h"
#include "store/params_io.h"
#include "ops/adamw.h"

namespace fs = std::filesystem;

namespace tlm {
namespace {

// Keeps only the metrics records of steps <= `step` (a resumed run rewrites what the abandoned
// part of the run logged, so metrics.jsonl is the curve of the run as it continues). A torn last
// line from a killed process is dropped too.
void truncate_metrics(const std::string& path, int64_t step) {
  if (!path_exists(path)) return;
  std::string text = read_file(path), kept;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // no newline: torn
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.contains("step") && j["step"].get<int64_t>() > step) continue;
    } catch (const std::exception&) {
      continue;
    }
    kept += line + "\n";
  }
  atomic_write_file(path, kept);
}

// state.json: everything besides the tensors that decides how the run continues.
nlohmann::ordered_json state_json(const RunSetup& run, const TrainBackend& backend, const DataLoader& loader,
                                  const RunState& st) {
  const TrainOptions& opt = run.opt;
  const LoaderPosition p = loader.position();
  nlohmann::ordered_json j = {{"format", "tweetlm training state"},
                              {"version", 1},
                              {"step", st.step},
                              {"tokens", st.step * run.tokens_per_step},
                              {"data",
                               {{"dir", opt.data_dir}, {"split", "train"}, {"epoch", p.epoch}, {"index", p.index},
                                {"windows", loader.num_windows()}, {"train_tokens", run.train_data.size()}}},
                              {"rng", {{"generator", "philox4x32-10 (counter-based: data order = f(seed, epoch))"}, {"seed", opt.seed}}},
                              {"optimizer", {{"name", "adamw"}, {"t", backend.optimizer_steps()}}},
                              {"bad_steps", {{"total", st.bad_total}, {"in_a_row", st.bad_in_row}}},
                              {"config", run.config.to_hf_json()},
                              {"tokenizer", {{"vocab_xxh3", run.vocab_hash}, {"file_xxh3", run.tokenizer_file_hash}}},
                              {"world_size", opt.world},
                              {"options", options_to_json(opt)}};
  if (!run.init_source.is_null()) j["init_from"] = run.init_source;
  if (loader.num_replay() > 0) {
    nlohmann::ordered_json replay = nlohmann::ordered_json::array();
    for (size_t i = 0; i < loader.num_replay(); ++i) {
      const LoaderPosition rp = loader.replay(i).position();
      replay.push_back({{"dir", opt.replay[i].dir}, {"fraction", opt.replay[i].fraction}, {"epoch", rp.epoch},
                        {"index", rp.index}, {"windows", loader.replay(i).num_windows()}});
    }
    j["data"]["batches"] = loader.batches();
    j["data"]["replay"] = replay;
  }
  return j;
}

// Reads back what state_json wrote: the step, the bad-step counters, and the data position
// (into `loader`).
RunState read_state(const RunSetup& run, DataLoader& loader) {
  RunState st;
  try {
    const auto& s = run.checkpoint_info.state;
    st.step = s.at("step").get<int64_t>();
    loader.seek({s.at("data").at("epoch").get<uint64_t>(), s.at("data").at("index").get<uint64_t>()});
    if (loader.num_replay() > 0) {
      // merge_resume_options kept --replay as stored, so the sources are the checkpoint's.
      const auto& replay = s.at("data").at("replay");
      loader.seek_batches(s.at("data").at("batches").get<uint64_t>());
      for (size_t i = 0; i < loader.num_replay(); ++i)
        loader.replay(i).seek({replay.at(i).at("epoch").get<uint64_t>(), replay.at(i).at("index").get<uint64_t>()});
    }
    st.bad_total = s.at("bad_steps").at("total").get<int64_t>();
    st.bad_in_row = s.at("bad_steps").at("in_a_row").get<int64_t>();
    if (s.at("data").at("windows").get<uint64_t>() != loader.num_windows())
      log_warn("%s: the training split has %llu windows, the checkpoint's had %llu: the data order will differ",
               run.opt.data_dir.c_str(), static_cast<unsigned long long>(loader.num_windows()),
               static_cast<unsigned long long>(s.at("data").at("windows").get<uint64_t>()));
  } catch (const nlohmann::json::exception& e) {
    throw user_error(run.checkpoint->path + "/state.json", "bad training state: %s", e.what());
  }
  return st;
}

bool all_finite(const float* p, size_t n) { return std::isfinite(ops::sum_squares(p, n)); }

}  // namespace

DataLoader make_loader(const RunSetup& run) {
  const TrainOptions& opt = run.opt;
  DataLoader loader(run.train_data, opt.B, opt.T, opt.seed, opt.rank, opt.world);
  for (size_t i = 0; i < run.replay_data.size(); ++i) loader.add_replay(run.replay_data[i], opt.replay[i].fraction);
  return loader;
}

std::string metrics_path(const RunSetup& run) { return (fs::path(run.opt.out_dir) / "metrics.jsonl").string(); }

RunState start_run(const RunSetup& run, TrainBackend& backend, DataLoader& loader) {
  dist::Communicator& comm = *run.opt.comm;
  const bool root = comm.rank() == 0;
  if (root) {
    make_dirs(run.opt.out_dir);
    remove_stale_temporaries(run.opt.out_dir);
  }
  // Every rank starts from rank 0's parameters (they agree already; this makes it a fact).
  backend.start_from(run.initial);
  if (!run.checkpoint) {
    std::error_code ec;
    if (root) fs::remove(metrics_path(run), ec);  // a new run's curve starts empty
    return {};
  }
  RunState st = read_state(run, loader);
  comm.barrier();  // every rank has read the checkpoint before rank 0 tidies OUT
  if (root) {
    remove_checkpoints_after(run.opt.out_dir, st.step);
    truncate_metrics(metrics_path(run), st.step);
  }
  log_info("train: resuming from %s (step %lld of %lld)", run.checkpoint->path.c_str(), static_cast<long long>(st.step),
           static_cast<long long>(run.opt.steps));
  return st;
}

std::string save_checkpoint(const RunSetup& run, TrainBackend& backend, const DataLoader& loader, const RunState& st,
                            const std::string& last_checkpoint) {
  dist::Communicator& comm = *run.opt.comm;
  backend.sync_host(true);
  Llama& model = backend.host_model();
  double bad = !all_finite(model.params(), model.num_params()) || !backend.optimizer_finite();
  comm.all_reduce_sum(&bad, 1);
  if (bad > 0)
    throw user_error("training", "the parameters are no longer finite at step %lld (the run diverged): not saved; "
                     "lower --lr or --clip%s%s", static_cast<long long>(st.step),
                     last_checkpoint.empty() ? "" : "; last checkpoint: ", last_checkpoint.c_str());
  backend.gather_optimizer();
  if (comm.rank() != 0) return "";
  CheckpointWriter w(run.opt.out_dir, st.step);
  save_params(w.file("model.safetensors"), model.layout(), std::as_const(model).params(), {{"format", "pt"}});
  backend.write_optimizer(w.file("optimizer.safetensors"));
  atomic_write_file(w.file("config.json"), run.config.to_hf_json().dump(2) + "\n");
  atomic_write_file(w.file("tokenizer.json"), run.tokenizer_text);
  atomic_write_file(w.file("state.json"), state_json(run, backend, loader, st).dump(2) + "\n");
  std::string path = w.commit();
  prune_checkpoints(run.opt.out_dir, run.opt.keep);
  log_info("train: saved %s", path.c_str());
  return path;
}

}  // namespace tlm
