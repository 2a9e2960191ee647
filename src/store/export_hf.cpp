// Hugging Face directory export (see export_hf.h).
#include "store/export_hf.h"

#include <stdio.h>  // renameat2, RENAME_EXCHANGE (glibc >= 2.28)
#include <fcntl.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/progress.h"
#include "io/gguf.h"
#include "io/safetensors_index.h"
#include "model/params.h"

namespace fs = std::filesystem;

namespace tlm {

namespace {

const char* torch_dtype(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    default: break;
  }
  TLM_CHECK(false, "HF export dtype %s", dtype_name(t));
  return "";
}

// One parameter's bytes in f16 or bf16 (round to nearest even, as torch's .to()).
std::string convert(const float* x, size_t n, DType t) {
  std::string out(n * 2, '\0');
  for (size_t i = 0; i < n; i++) {
    const uint16_t h = t == DType::F16 ? float_to_half(x[i]) : float_to_bf16(x[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

std::string dump(const nlohmann::ordered_json& j) { return j.dump(2) + "\n"; }

// Removes a temporary directory unless released (an exception on the way).
struct TempDirGuard {
  std::string path;
  ~TempDirGuard() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

bool empty_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) && !ec;
}

// Puts the finished directory `tmp` at `dir`. An existing `dir` (empty, or any under force) is
// exchanged atomically with it and then removed, so readers see the old or the new one whole.
void install_dir(const std::string& tmp, const std::string& dir) {
  if (!fs::exists(fs::symlink_status(dir))) {
    if (::rename(tmp.c_str(), dir.c_str()) != 0)
      throw user_error(dir, "cannot move the export into place: %s", std::strerror(errno));
    return;
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS)
      throw user_error(dir, "cannot replace the directory: %s", std::strerror(errno));
    // A filesystem without RENAME_EXCHANGE: the old one out of the way first, then the new in.
    const std::string old = tmp + ".old";
    if (::rename(dir.c_str(), old.c_str()) != 0 || ::rename(tmp.c_str(), dir.c_str()) != 0)
      throw user_error(dir, "cannot replace the directory: %s", std::strerror(errno));
    std::error_code ec;
    fs::remove_all(old, ec);
    return;
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);  // now the old directory
}

}  // namespace

uint64_t parse_byte_size(const std::string& s, const std::string& what) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
  if (i == 0) throw user_error(what, "'%s' is not a size (e.g. 2GB, 500MB, 10KB, 1GiB)", s.c_str());
  std::string unit;
  for (size_t k = i; k < s.size(); k++) unit += char(std::tolower(static_cast<unsigned char>(s[k])));
  static const std::map<std::string, uint64_t> kUnits = {
      {"", 1},          {"b", 1},          {"kb", 1000ull},   {"mb", 1000000ull}, {"gb", 1000000000ull},
      {"tb", 1000000000000ull}, {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30}, {"tib", 1ull << 40}};
  auto u = kUnits.find(unit);
  if (u == kUnits.end())
    throw user_error(what, "'%s': unknown unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s.c_str());
  uint64_t n = 0;
  for (size_t k = 0; k < i; k++)
    if (__builtin_mul_overflow(n, 10ull, &n) || __builtin_add_overflow(n, uint64_t(s[k] - '0'), &n))
      throw user_error(what, "'%s' is too large", s.c_str());
  if (__builtin_mul_overflow(n, u->second, &n)) throw user_error(what, "'%s' is too large", s.c_str());
  if (n == 0) throw user_error(what, "'%s': the size must be positive", s.c_str());
  return n;
}

void check_hf_target(const std::string& dir, bool force) {
  const auto st = fs::symlink_status(dir);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) throw user_error(dir, "exists and is not a directory");
    if (!force && !empty_dir(dir)) throw user_error(dir, "exists and is not empty (use --force to replace it)");
    return;
  }
  // The nearest existing ancestor must be a directory ("out/afile/hf" fails here, not at the end).
  std::error_code ec;
  for (fs::path p = fs::path(dir).lexically_normal().parent_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec)) throw user_error(p.string(), "is not a directory (in the path of %s)", dir.c_str());
      break;
    }
    if (p == p.parent_path()) break;
  }
}

void export_hf(const Llama& model, const Tokenizer& tok, const std::string& dir, const HfExportOptions& opt) {
  const ModelConfig& c = model.config();
  const size_t n_tok = tok.vocab_size();
  TLM_CHECK(n_tok > 0 && n_tok <= size_t(c.vocab_size), "tokenizer size %zu vs model vocabulary %d", n_tok,
            c.vocab_size);
  TLM_CHECK(tok.eos_id() >= 0, "the tokenizer has no <|endoftext|>");
  TLM_CHECK(opt.max_shard_bytes > 0, "max_shard_bytes is 0");
  const char* dt = torch_dtype(opt.dtype);

  // The target first, before any work: nothing is written when it is refused.
  check_hf_target(dir, opt.force);
  fs::path target = fs::path(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "out/" -> "out"
  const std::string parent = target.parent_path().empty() ? "." : target.parent_path().string();
  make_dirs(parent);
  std::string tmpl = target.string() + ".tmp-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw user_error(parent, "cannot create a directory: %s", std::strerror(errno));
  TempDirGuard guard{tmpl};
  // mkdtemp makes 0700; the installed directory gets what mkdir would give it (0777 & ~umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::chmod(tmpl.c_str(), 0777 & ~mask) != 0)
    throw user_error(tmpl, "cannot set permissions: %s", std::strerror(errno));
  const std::string tmp = tmpl;
  auto in_tmp = [&](const std::string& name) { return (fs::path(tmp) / name).string(); };

  // Weights: shards planned by size, each written from its converted tensors.
  struct Item {
    const ParamInfo* p;
    size_t bytes;
  };
  std::vector<std::vector<Item>> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  for_each_param(model.layout(), [&](const ParamInfo& p) {
    const size_t bytes = p.size * dtype_size(opt.dtype);
    if (!shards.back().empty() && shard_bytes + bytes > opt.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back({&p, bytes});
    shard_bytes += bytes;
    total += bytes;
  });
  nlohmann::json weight_map = nlohmann::json::object();  // sorted by name, as transformers writes it
  Progress progress("export hf", double(total), ProgressUnit::bytes);
  double bytes_done = 0;
  for (size_t s = 0; s < shards.size(); s++) {
    const std::string name = shards.size() == 1 ? "model.safetensors" : shard_file_name(s + 1, shards.size());
    std::vector<std::string> data;  // one shard's converted bytes at a time
    data.reserve(shards[s].size());
    std::vector<TensorOut> out;
    for (const Item& it : shards[s]) {
      const float* x = model.params() + it.p->offset;
      const void* bytes = x;  // f32: written straight from the parameters
      if (opt.dtype != DType::F32) {
        data.push_back(convert(x, it.p->size, opt.dtype));
        bytes = data.back().data();
      }
      out.push_back(TensorOut{it.p->name, opt.dtype, it.p->shape, bytes});
      weight_map[it.p->name] = name;
    }
    write_safetensors(in_tmp(name), out, {{"format", "pt"}});
    for (const Item& it : shards[s]) bytes_done += double(it.bytes);
    progress.update(bytes_done, name);
  }
  progress.finish(strprintf("%zu shard%s", shards.size(), shards.size() == 1 ? "" : "s"));
  if (shards.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = weight_map;
    atomic_write_file(in_tmp("model.safetensors.index.json"), dump(index));
  }

  // Config, generation defaults, tokenizer files.
  const int64_t eos = tok.eos_id();
  std::string eos_text = "<|endoftext|>";
  for (const AddedToken& a : tok.added_tokens())
    if (int64_t(a.id) == eos) eos_text = a.content;
  nlohmann::ordered_json config;
  const nlohmann::json base = c.to_hf_json();  // a named object: items() of a temporary would dangle
  for (auto it = base.begin(); it != base.end(); ++it) config[it.key()] = it.value();
  config["bos_token_id"] = eos;
  config["eos_token_id"] = eos;
  config["pad_token_id"] = eos;
  config["torch_dtype"] = dt;
  atomic_write_file(in_tmp("config.json"), dump(config));

  const GenerationDefaults& s = opt.generation;
  nlohmann::ordered_json gen = {{"bos_token_id", eos}, {"eos_token_id", eos},   {"pad_token_id", eos},
                                {"do_sample", s.temperature > 0}, {"temperature", s.temperature}, {"top_k", s.top_k},
                                {"top_p", s.top_p},    {"min_p", s.min_p}};
  if (s.repeat_penalty != 1.0f) gen["repetition_penalty"] = s.repeat_penalty;
  atomic_write_file(in_tmp("generation_config.json"), dump(gen));

  tok.save(in_tmp("tokenizer.json"));
  nlohmann::ordered_json tc = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                               {"bos_token", eos_text},
                               {"eos_token", eos_text},
                               {"pad_token", eos_text},
                               {"unk_token", eos_text},
                               {"model_max_length", c.max_seq_len},
                               {"add_bos_token", true},
                               {"add_eos_token", false},
                               {"clean_up_tokenization_spaces", false}};
  atomic_write_file(in_tmp("tokenizer_config.json"), dump(tc));
  nlohmann::ordered_json stm = {
      {"bos_token", eos_text}, {"eos_token", eos_text}, {"pad_token", eos_text}, {"unk_token", eos_text}};
  atomic_write_file(in_tmp("special_tokens_map.json"), dump(stm));

  // Every file was fsynced by its atomic write; now the directory, then the rename.
  fsync_dir(tmp);
  if (fs::exists(fs::symlink_status(target)) && !opt.force && !empty_dir(target.string()))
    throw user_error(dir, "exists and is not empty (use --force to replace it)");  // appeared meanwhile
  install_dir(tmp, target.string());
  guard.path.clear();
  fsync_dir(parent);
}

}  // namespace tlm
