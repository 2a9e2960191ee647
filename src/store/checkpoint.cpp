// Checkpoint directories: atomic write, manifest verification, selection and pruning (see
// checkpoint.h).
#include "store/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace tlm {
namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kTmpPrefix = ".tmp-";
constexpr const char* kTrashPrefix = ".trash-";

// Parses "step_<digits>"; -1 for anything else.
int64_t parse_step(const std::string& name) {
  if (name.size() <= 5 || name.compare(0, 5, "step_") != 0 || name.size() > 5 + 18) return -1;
  int64_t v = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

// XXH3 of a whole file (mapped, so no copy). An empty file hashes the empty string.
uint64_t hash_file(const std::string& path) {
  MappedFile m(path);
  return hash64(m.data(), m.size());
}

void fsync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw user_error(path, "cannot open to sync: %s", std::strerror(errno));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) throw user_error(path, "fsync failed: %s", std::strerror(e));
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) log_warn("%s: cannot remove: %s", path.c_str(), ec.message().c_str());
}

// Renames a directory out of the way under a hidden name, then deletes it.
void trash(const std::string& out_dir, const std::string& path) {
  std::string hidden = path_join(out_dir, kTrashPrefix + fs::path(path).filename().string() + "." + std::to_string(::getpid()));
  remove_tree(hidden);
  if (::rename(path.c_str(), hidden.c_str()) != 0)
    throw user_error(path, "cannot move aside: %s", std::strerror(errno));
  fsync_dir(out_dir);
  remove_tree(hidden);
}

}  // namespace

std::string checkpoint_name(int64_t step) { return strprintf("step_%08lld", static_cast<long long>(step)); }

const std::vector<std::string>& checkpoint_required_files() {
  static const std::vector<std::string> files = {"model.safetensors", "state.json", "config.json", "tokenizer.json"};
  return files;
}

std::vector<CheckpointEntry> list_checkpoints(const std::string& out_dir) {
  std::vector<CheckpointEntry> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out_dir, ec)) {
    int64_t step = parse_step(e.path().filename().string());
    if (step >= 0 && e.is_directory(ec)) out.push_back({step, e.path().string()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return out;
}

std::string verify_checkpoint(const std::string& dir) {
  const std::string mpath = path_join(dir, kManifest);
  if (!path_exists(mpath)) return "no manifest.json (an incomplete save)";
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(read_file(mpath));
  } catch (const std::exception& e) {
    return std::string("unreadable manifest.json: ") + e.what();
  }
  if (!m.is_object() || !m.contains("files") || !m["files"].is_object()) return "manifest.json has no \"files\" object";
  const auto& files = m["files"];
  for (const std::string& req : checkpoint_required_files())
    if (!files.contains(req)) return "manifest.json does not list " + req;
  for (const auto& [name, entry] : files.items()) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      return "manifest.json lists a bad file name '" + name + "'";
    const std::string path = path_join(dir, name);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return name + " is missing";
    uint64_t size = fs::file_size(path, ec);
    try {
      if (ec || size != entry.at("bytes").get<uint64_t>())
        return strprintf("%s has %llu bytes, the manifest says %llu", name.c_str(), static_cast<unsigned long long>(size),
                         static_cast<unsigned long long>(entry.at("bytes").get<uint64_t>()));
      if (hex64(hash_file(path)) != entry.at("xxh3").get<std::string>()) return name + " does not match its checksum";
    } catch (const nlohmann::json::exception&) {
      return "manifest.json entry of " + name + " lacks bytes/xxh3";
    } catch (const UserError& e) {
      return e.what();
    }
  }
  return "";
}

std::optional<CheckpointEntry> find_latest_checkpoint(const std::string& out_dir, bool warn) {
  auto all = list_checkpoints(out_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::string why = verify_checkpoint(it->path);
    if (why.empty()) return *it;
    if (warn) log_warn("%s: skipping invalid checkpoint: %s", it->path.c_str(), why.c_str());
  }
  return std::nullopt;
}

std::string resolve_checkpoint(const std::string& path) {
  if (!is_directory(path)) throw user_error(path, "no such checkpoint directory");
  if (path_exists(path_join(path, kManifest)) || parse_step(fs::path(path).lexically_normal().filename().string()) >= 0 ||
      path_exists(path_join(path, "model.safetensors"))) {
    std::string why = verify_checkpoint(path);
    if (!why.empty()) throw user_error(path, "invalid checkpoint: %s", why.c_str());
    return path;
  }
  auto latest = find_latest_checkpoint(path);
  if (!latest) throw user_error(path, "no valid checkpoint (step_* directory) in this directory");
  return latest->path;
}

CheckpointWriter::CheckpointWriter(std::string out_dir, int64_t step)
    : out_dir_(std::move(out_dir)), name_(checkpoint_name(step)) {
  make_dirs(out_dir_);
  tmp_ = path_join(out_dir_, kTmpPrefix + name_);
  remove_tree(tmp_);
  make_dirs(tmp_);
}

CheckpointWriter::~CheckpointWriter() {
  if (!committed_) remove_tree(tmp_);
}

std::string CheckpointWriter::file(const std::string& name) const { return path_join(tmp_, name); }

std::string CheckpointWriter::commit() {
  TLM_CHECK(!committed_, "commit called twice");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp_)) {
    std::string n = e.path().filename().string();
    TLM_CHECK(e.is_regular_file(), "%s: only plain files belong in a checkpoint", e.path().c_str());
    if (n != kManifest) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  nlohmann::ordered_json files = nlohmann::ordered_json::object();
  for (const std::string& n : names) {
    const std::string path = path_join(tmp_, n);
    fsync_file(path);
    files[n] = {{"bytes", fs::file_size(path)}, {"xxh3", hex64(hash_file(path))}};
  }
  int64_t step = parse_step(name_);
  nlohmann::ordered_json manifest = {{"format", "tweetlm checkpoint"}, {"version", 1}, {"step", step}, {"files", files}};
  atomic_write_file(path_join(tmp_, kManifest), manifest.dump(2) + "\n");  // fsyncs the file and tmp_
  fsync_dir(tmp_);

  const std::string final_path = path_join(out_dir_, name_);
  if (path_exists(final_path)) trash(out_dir_, final_path);  // a checkpoint of the same step: replaced
  if (::rename(tmp_.c_str(), final_path.c_str()) != 0)
    throw user_error(final_path, "cannot rename the checkpoint into place: %s", std::strerror(errno));
  committed_ = true;
  fsync_dir(out_dir_);
  return final_path;
}

void prune_checkpoints(const std::string& out_dir, int keep) {
  if (keep <= 0) return;
  auto all = list_checkpoints(out_dir);
  if (all.size() <= size_t(keep)) return;
  for (size_t i = 0; i + size_t(keep) < all.size(); ++i) trash(out_dir, all[i].path);
}

void remove_checkpoints_after(const std::string& out_dir, int64_t step) {
  for (const auto& c : list_checkpoints(out_dir))
    if (c.step > step) {
      log_warn("%s: removing it (newer than the checkpoint the run resumes from, and invalid)", c.path.c_str());
      trash(out_dir, c.path);
    }
}

void remove_stale_temporaries(const std::string& out_dir) {
  std::error_code ec;
  std::vector<std::string> stale;
  for (const auto& e : fs::directory_iterator(out_dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(kTmpPrefix, 0) == 0 || n.rfind(kTrashPrefix, 0) == 0) stale.push_back(e.path().string());
  }
  for (const auto& p : stale) remove_tree(p);
}

CheckpointInfo read_checkpoint(const std::string& dir) {
  CheckpointInfo info;
  info.dir = dir;
  info.model_path = path_join(dir, "model.safetensors");
  info.tokenizer_path = path_join(dir, "tokenizer.json");
  const std::string state_path = path_join(dir, "state.json"), config_path = path_join(dir, "config.json");
  try {
    info.state = nlohmann::json::parse(read_file(state_path));
    info.step = info.state.at("step").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw user_error(state_path, "bad checkpoint state: %s", e.what());
  }
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw user_error(config_path, "invalid JSON: %s", e.what());
  }
  info.config = ModelConfig::from_hf_json(cfg, config_path);
  return info;
}

}  // namespace tlm
