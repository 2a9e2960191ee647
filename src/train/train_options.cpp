// Training options: model resolution, JSON form and the resume policy (see train_options.h).
#include "train/train_options.h"

#include <cmath>
#include <cstdlib>

#include "core/check.h"
#include "core/log.h"

namespace tlm {
namespace {

enum class Kind { fixed, numeric, free };

struct Field {
  const char* key;
  const char* flag;
  Kind kind;
};

// Every option that state.json records, with its flag and how resume treats it.
constexpr Field kFields[] = {
    {"batch", "-b", Kind::fixed},
    {"context", "-T", Kind::fixed},
    {"grad_accum", "--grad-accum", Kind::fixed},
    {"seed", "--seed", Kind::fixed},
    {"init_from", "--init-from", Kind::fixed},
    {"replay", "--replay", Kind::fixed},
    {"lr", "--lr", Kind::numeric},
    {"min_lr", "--min-lr", Kind::numeric},
    {"warmup", "--warmup", Kind::numeric},
    {"wd", "--wd", Kind::numeric},
    {"clip", "--clip", Kind::numeric},
    {"dtype", "--dtype", Kind::numeric},
    {"device", "--device", Kind::free},
    {"recompute", "--recompute", Kind::free},
    {"steps", "--steps", Kind::numeric},
    {"tokens", "--tokens", Kind::numeric},
    {"data", "--data", Kind::free},
    {"eval_every", "--eval-every", Kind::free},
    {"eval_tokens", "--eval-tokens", Kind::free},
    {"save_every", "--save-every", Kind::free},
    {"keep", "--keep", Kind::free},
    {"max_bad_steps", "--max-bad-steps", Kind::free},
    {"peak_gflops", "--peak-gflops", Kind::free},
    {"sample_every", "--sample-every", Kind::free},
    {"log_every", "--log-every", Kind::free},
    {"stop_after", "--stop-after", Kind::free},
    {"zero", "--zero", Kind::free},
    {"bucket_mb", "--bucket-mb", Kind::free},
};

bool is_preset(const std::string& name) {
  return name == "tiny" || name == "small" || name == "33m" || name == "124m";
}

}  // namespace

std::string option_flag(const std::string& key) {
  for (const Field& f : kFields)
    if (key == f.key) return f.flag;
  return key;
}

ModelConfig resolve_model(const ModelSpec& s, int tokenizer_vocab, int T) {
  if (!is_preset(s.preset))
    throw user_error("--model", "unknown size '%s' (expected tiny, small, 33m or 124m)", s.preset.c_str());
  ModelConfig c = ModelConfig::preset(s.preset);
  apply_dims(c, {s.dim, s.layers, s.heads, s.kv_heads, s.ffn, s.head_dim});
  if (s.vocab < 0) throw user_error("--vocab", "must be positive, got %d", s.vocab);
  if (s.vocab && s.vocab < tokenizer_vocab)
    throw user_error("--vocab", "%d is smaller than the tokenizer's vocabulary of %d", s.vocab, tokenizer_vocab);
  c.vocab_size = s.vocab ? s.vocab : tokenizer_vocab;
  c.max_seq_len = T;
  c.tied_embeddings = s.tie;
  c.validate("--model");
  return c;
}

ReplaySpec parse_replay(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw user_error("--replay", "'%s' is not DIR:FRACTION (e.g. old/shards:0.25)", s.c_str());
  ReplaySpec r{s.substr(0, colon), 0};
  const std::string f = s.substr(colon + 1);
  char* end = nullptr;
  r.fraction = std::strtod(f.c_str(), &end);
  if (f.empty() || *end != '\0' || !(r.fraction > 0 && r.fraction < 1))
    throw user_error("--replay", "'%s': the fraction must be a number in (0, 1)", s.c_str());
  return r;
}

namespace {
nlohmann::json replay_json(const std::vector<ReplaySpec>& replay) {
  nlohmann::json a = nlohmann::json::array();
  for (const ReplaySpec& r : replay) a.push_back({{"dir", r.dir}, {"fraction", r.fraction}});
  return a;
}
}  // namespace

nlohmann::json options_to_json(const TrainOptions& o) {
  return {{"data", o.data_dir},
          {"init_from", o.init_from},
          {"replay", replay_json(o.replay)},
          {"batch", o.B},
          {"context", o.T},
          {"grad_accum", o.grad_accum},
          {"lr", o.lr},
          {"min_lr", o.min_lr},
          {"warmup", o.warmup},
          {"wd", o.wd},
          {"clip", o.clip},
          {"dtype", o.dtype},
          {"device", o.device},
          {"recompute", o.recompute},
          {"steps", o.steps},
          {"tokens", o.tokens},
          {"eval_every", o.eval_every},
          {"eval_tokens", o.eval_tokens},
          {"save_every", o.save_every},
          {"keep", o.keep},
          {"seed", o.seed},
          {"world", o.world},
          {"max_bad_steps", o.max_bad_steps},
          {"peak_gflops", o.peak_gflops},
          {"sample_every", o.sample_every},
          {"log_every", o.log_every},
          {"stop_after", o.stop_after},
          {"zero", o.zero},
          {"bucket_mb", o.bucket_mb},
          {"preset", o.model.preset},
          {"tie", o.model.tie}};
}

TrainOptions options_from_json(const nlohmann::json& j, TrainOptions o, const std::string& what) {
  try {
    auto get = [&](const char* key, auto& field) {
      if (j.contains(key)) field = j.at(key).get<std::decay_t<decltype(field)>>();
    };
    get("data", o.data_dir);
    get("init_from", o.init_from);
    if (j.contains("replay")) {
      o.replay.clear();
      for (const auto& r : j.at("replay")) o.replay.push_back({r.at("dir").get<std::string>(), r.at("fraction").get<double>()});
    }
    get("batch", o.B);
    get("context", o.T);
    get("grad_accum", o.grad_accum);
    get("lr", o.lr);
    get("min_lr", o.min_lr);
    get("warmup", o.warmup);
    get("wd", o.wd);
    get("clip", o.clip);
    get("dtype", o.dtype);
    get("device", o.device);
    get("recompute", o.recompute);
    get("steps", o.steps);
    get("tokens", o.tokens);
    get("eval_every", o.eval_every);
    get("eval_tokens", o.eval_tokens);
    get("save_every", o.save_every);
    get("keep", o.keep);
    get("seed", o.seed);
    get("max_bad_steps", o.max_bad_steps);
    get("peak_gflops", o.peak_gflops);
    get("sample_every", o.sample_every);
    get("log_every", o.log_every);
    get("stop_after", o.stop_after);
    get("zero", o.zero);
    get("bucket_mb", o.bucket_mb);
    get("preset", o.model.preset);
    get("tie", o.model.tie);
  } catch (const nlohmann::json::exception& e) {
    throw user_error(what, "bad training options: %s", e.what());
  }
  return o;
}

TrainOptions merge_resume_options(const TrainOptions& cli, const std::set<std::string>& given,
                                  const nlohmann::json& stored, const std::string& checkpoint) {
  const nlohmann::json now = options_to_json(cli);
  nlohmann::json merged = stored;
  merged["stop_after"] = 0;  // a stop request belongs to one invocation, never to the run
  for (const Field& f : kFields) {
    if (!given.count(f.key) || !now.contains(f.key)) continue;
    const nlohmann::json& v = now.at(f.key);
    bool differs = !stored.contains(f.key) || stored.at(f.key) != v;
    // Numbers may come back from JSON as another numeric type; compare their values.
    if (differs && stored.contains(f.key) && v.is_number() && stored.at(f.key).is_number())
      differs = stored.at(f.key).get<double>() != v.get<double>();
    if (differs && f.kind == Kind::fixed)
      throw user_error(f.flag, "is %s but %s was trained with %s; a resumed run must keep it (or use another --out)",
                       v.dump().c_str(), checkpoint.c_str(), stored.contains(f.key) ? stored.at(f.key).dump().c_str() : "?");
    if (differs && f.kind == Kind::numeric)
      log_warn("%s %s overrides %s from %s: the loss curve will differ from an uninterrupted run", f.flag,
               v.dump().c_str(), stored.contains(f.key) ? stored.at(f.key).dump().c_str() : "?", checkpoint.c_str());
    merged[f.key] = v;
  }
  // --steps and --tokens are two ways to give one length: the one given wins.
  if (given.count("steps") && !given.count("tokens")) merged["tokens"] = 0;
  if (given.count("tokens") && !given.count("steps")) merged["steps"] = 0;
  TrainOptions out = options_from_json(merged, cli, checkpoint + "/state.json");
  out.model = cli.model;
  if (stored.contains("preset") && !given.count("model")) out.model.preset = stored.at("preset").get<std::string>();
  out.resume = true;
  return out;
}

}  // namespace tlm
