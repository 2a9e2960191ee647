// The options of a training run (the flags of `tweetlm train`), their JSON form in state.json,
// and how a resumed run combines the checkpoint's options with the flags given again.
//
// Resume policy (docs/training.md "Resume"): a resumed run continues with the options stored in
// the checkpoint. A flag given again on the command line
//  - must equal the stored value when it decides what the model and the data order are (the
//    model dimensions, -b, -T, --grad-accum, --seed): anything else could not load the
//    checkpoint or continue the same run, so a difference is a UserError naming the flag;
//  - replaces the stored value, with a warning that the loss curve will no longer match an
//    uninterrupted run, when it changes the numerics (--lr, --min-lr, --warmup, --wd, --clip, --dtype,
//    --steps, --tokens): extending a finished run with a larger --steps is the common case;
//  - replaces it silently for everything else (evaluation, saving, logging, --data: the shards
//    may move; their tokenizer hash is still checked).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/config.h"

namespace tlm {
namespace dist {
class Communicator;
}

class Llama;
class Tokenizer;

// The model the flags ask for, before the tokenizer's vocabulary is known. 0 = not given.
struct ModelSpec {
  std::string preset = "tiny";
  int dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, head_dim = 0;
  int vocab = 0;  // --vocab: pad the vocabulary up to this size
  bool tie = false;
};

// The preset with the given dimensions applied. Dimensions derived from others follow them
// unless given too: head_dim = dim / heads, kv_heads = heads, ffn = 8/3 dim rounded up to a
// multiple of 16 (as the presets are). vocab_size is the tokenizer's, or --vocab when larger
// (a smaller --vocab is a UserError). Validated; errors name the flag.
ModelConfig resolve_model(const ModelSpec& spec, int tokenizer_vocab, int T);

// Returns generated sample texts for the progress log (the CLI fills it from src/infer when
// generation is available). Must not change the model's parameters or any training state.
using SampleFn = std::function<std::vector<std::string>(Llama& model, const Tokenizer& tok, int64_t step)>;

// `--replay DIR:FRACTION`: old shards mixed into every batch at that share of its rows.
struct ReplaySpec {
  std::string dir;
  double fraction = 0;
  bool operator==(const ReplaySpec&) const = default;
};
// Parses "DIR:FRACTION" (the last ':' splits); UserError naming --replay otherwise.
ReplaySpec parse_replay(const std::string& s);

struct TrainOptions {
  std::string data_dir;        // --data: SHARD_DIR with train_*.bin (and val_*.bin) and meta.json
  std::string tokenizer_path;  // --tokenizer (optional on --resume: the checkpoint holds it)
  std::string out_dir;         // --out
  std::string init_from;       // --init-from: the model a new run starts from (load_model's sources)
  std::vector<ReplaySpec> replay;  // --replay: old shards mixed into each batch (continued pre-training)
  ModelSpec model;
  int B = 16, T = 128, grad_accum = 1;
  std::string dtype = "fp32";  // --dtype: fp32 | bf16 linear layers (Precision, model/llama.h)
  std::string device = "cpu";  // --device: cpu | cuda (bf16 mixed precision, model/llama_cuda.h)
  bool recompute = false;      // --recompute: GPU activations recomputed in backward (less memory)
  double lr = 1e-3;
  double min_lr = -1;   // < 0: lr / 10
  int64_t warmup = -1;  // < 0: 10% of the steps, at most 1000
  double wd = 0.1, clip = 1.0;
  int64_t steps = 0;    // 0: from tokens, else 1000
  uint64_t tokens = 0;  // train for at least this many tokens (steps rounded up)
  int64_t eval_every = 100;       // 0: only at the end
  uint64_t eval_tokens = 65536;   // 0: the whole val split
  int64_t save_every = 500;       // 0: only at the end (and on a signal)
  int keep = 3;                   // checkpoints kept; 0: all
  uint64_t seed = 1337;
  bool resume = false;
  int max_bad_steps = 5;
  double peak_gflops = 0;    // 0: measured at start-up
  int64_t sample_every = -1; // < 0: with each evaluation; 0: never
  int64_t log_every = 1;
  int64_t stop_after = 0;    // stop (with a checkpoint) after this step, keeping the schedule of --steps
  // Data parallel: the communicator of the job (null: one process). rank and world are set
  // from it by train(); world is recorded in state.json, and a resume may change it.
  dist::Communicator* comm = nullptr;
  // With --device cuda on several ranks: NCCL on device buffers for the gradient all-reduce
  // (comm still carries the host-side scalars and checkpoints).
  dist::Communicator* device_comm = nullptr;
  int rank = 0, world = 1;
  int zero = 0;              // 1: ZeRO-1 (AdamW state and update sharded over the ranks)
  double bucket_mb = 25;     // gradient all-reduce bucket size (MB), as PyTorch DDP's default
  SampleFn sampler;          // hook for generated samples; empty: none printed
};

// The options as stored in state.json ("options"): keys are the flag names in snake case.
nlohmann::json options_to_json(const TrainOptions& o);
// Reads back what options_to_json wrote over `base` (fields absent in `j` keep base's values).
TrainOptions options_from_json(const nlohmann::json& j, TrainOptions base, const std::string& what);

// Combines a checkpoint's stored options with the command line (see the policy above). `given`
// holds the JSON keys of the flags given explicitly ("lr", "batch", ...).
TrainOptions merge_resume_options(const TrainOptions& cli, const std::set<std::string>& given,
                                  const nlohmann::json& stored, const std::string& checkpoint);

// The flag a JSON key came from ("batch" -> "-b"), for messages.
std::string option_flag(const std::string& key);

}  // namespace tlm
