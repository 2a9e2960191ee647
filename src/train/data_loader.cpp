// Token stream, windows and the shuffling loader (see data_loader.h).
#include "train/data_loader.h"

#include <cmath>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/rng.h"

namespace tlm {

ShardMeta read_shard_meta(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "meta.json").string();
  if (!is_directory(dir)) throw user_error(dir, "no such directory (expected the output of 'tweetlm tokenize')");
  if (!path_exists(path))
    throw user_error(dir, "no meta.json: not a complete shard directory (run 'tweetlm tokenize' to make one)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw user_error(path, "invalid JSON: %s", e.what());
  }
  ShardMeta m;
  const auto t = j.find("tokenizer");
  if (t == j.end() || !t->is_object() || !t->contains("vocab_size") || !t->contains("eos_id") ||
      !t->contains("vocab_xxh3"))
    throw user_error(path, "no tokenizer.vocab_size / eos_id / vocab_xxh3 (not written by 'tweetlm tokenize'?)");
  try {
    m.vocab_size = (*t)["vocab_size"].get<uint64_t>();
    m.eos_id = (*t)["eos_id"].get<int32_t>();
    m.vocab_xxh3 = (*t)["vocab_xxh3"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw user_error(path, "bad tokenizer fields: %s", e.what());
  }
  if (m.eos_id < 0 || uint64_t(m.eos_id) >= m.vocab_size)
    throw user_error(path, "eos_id %d is outside the vocabulary of %llu", m.eos_id,
                     static_cast<unsigned long long>(m.vocab_size));
  return m;
}

TokenDataset::TokenDataset(const std::string& dir, const std::string& split, ShardCheck check)
    : dir_(dir), split_(split) {
  starts_.push_back(0);
  for (const std::string& path : list_shards(dir, split)) {
    ShardFile f(path, check);
    vocab_size_ = std::max(vocab_size_, f.vocab_size());
    starts_.push_back(starts_.back() + f.size());
    shards_.push_back(std::move(f));
  }
}

TokenDataset TokenDataset::from_tokens(std::vector<uint32_t> ids, uint32_t vocab_size, const std::string& name) {
  TokenDataset d;
  d.dir_ = name;
  d.vocab_size_ = vocab_size;
  d.starts_ = {0, ids.size()};
  d.memory_ = std::move(ids);
  return d;
}

void TokenDataset::copy(uint64_t begin, uint64_t n, int32_t* out) const {
  TLM_CHECK(begin + n <= size(), "copy [%llu, +%llu) past the end of %llu tokens", static_cast<unsigned long long>(begin),
            static_cast<unsigned long long>(n), static_cast<unsigned long long>(size()));
  if (shards_.empty()) {
    for (uint64_t i = 0; i < n; ++i) out[i] = int32_t(memory_[begin + i]);
    return;
  }
  // The shard holding `begin`: the last start <= begin.
  size_t s = size_t(std::upper_bound(starts_.begin(), starts_.end(), begin) - starts_.begin()) - 1;
  while (n > 0) {
    const ShardFile& f = shards_[s];
    uint64_t off = begin - starts_[s];
    uint64_t take = std::min(n, f.size() - off);
    if (f.token_width() == 2) {
      auto t = f.tokens16();
      for (uint64_t i = 0; i < take; ++i) out[i] = int32_t(t[off + i]);
    } else {
      auto t = f.tokens32();
      for (uint64_t i = 0; i < take; ++i) out[i] = int32_t(t[off + i]);
    }
    out += take;
    begin += take;
    n -= take;
    ++s;
  }
}

void fill_window(const TokenDataset& data, uint64_t w, int T, Batch& batch, int row) {
  // T + 1 tokens: inputs are [0, T), targets [1, T + 1).
  thread_local std::vector<int32_t> buf;
  buf.resize(size_t(T) + 1);
  data.copy(w * uint64_t(T), uint64_t(T) + 1, buf.data());
  int32_t* tok = batch.tokens.data() + size_t(row) * T;
  int32_t* tgt = batch.targets.data() + size_t(row) * T;
  std::copy(buf.begin(), buf.begin() + T, tok);
  std::copy(buf.begin() + 1, buf.end(), tgt);
}

DataLoader::DataLoader(const TokenDataset& data, int B, int T, uint64_t seed, int rank, int world)
    : data_(&data), B_(B), T_(T), seed_(seed), rank_(rank), world_(world) {
  TLM_CHECK(B > 0 && T > 0 && world > 0 && rank >= 0 && rank < world, "B=%d T=%d rank=%d world=%d", B, T, rank, world);
  windows_ = tlm::num_windows(data.size(), T);
  if (windows_ == 0)
    throw user_error(data.dir(), "the %s split has %llu tokens, fewer than one window of -T %d + 1", data.split().c_str(),
                     static_cast<unsigned long long>(data.size()), T);
}

void DataLoader::seek(LoaderPosition p) {
  if (p.index >= windows_)
    throw user_error("data position", "window %llu of an epoch of %llu windows: the training split changed",
                     static_cast<unsigned long long>(p.index), static_cast<unsigned long long>(windows_));
  pos_ = p;
}

// Uniform in [0, n) from 64-bit draws: Lemire's multiply-shift with rejection, in 128 bits.
static uint64_t below64(Rng& rng, uint64_t n) {
  using u128 = unsigned __int128;
  u128 m = u128(rng.next_u64()) * n;
  if (uint64_t(m) < n) {
    uint64_t t = (0 - n) % n;
    while (uint64_t(m) < t) m = u128(rng.next_u64()) * n;
  }
  return uint64_t(m >> 64);
}

const std::vector<uint64_t>& DataLoader::order(uint64_t epoch) {
  if (order_epoch_ == epoch) return order_;
  order_.resize(windows_);
  for (uint64_t i = 0; i < windows_; ++i) order_[i] = i;
  // Key the data-order stream away from the parameter-init streams of the same seed.
  Rng rng(mix64(seed_ ^ 0x64617461'6f726465ULL), epoch);
  for (uint64_t i = windows_; i > 1; --i) std::swap(order_[i - 1], order_[below64(rng, i)]);
  order_epoch_ = epoch;
  return order_;
}

uint64_t DataLoader::window_at(uint64_t epoch, uint64_t slot) { return order(epoch).at(slot); }

void DataLoader::next_rows(Batch& batch, int row0, int rows) {
  // This rank's block of the world x rows windows starting at the shared position.
  LoaderPosition p = pos_;
  auto advance = [&](uint64_t k) {
    uint64_t i = p.index + k;
    p.epoch += i / windows_;
    p.index = i % windows_;
  };
  advance(uint64_t(rank_) * uint64_t(rows));
  for (int b = 0; b < rows; ++b) {
    fill_window(*data_, order(p.epoch)[p.index], T_, batch, row0 + b);
    advance(1);
  }
  pos_.index += uint64_t(world_) * uint64_t(rows);
  pos_.epoch += pos_.index / windows_;
  pos_.index %= windows_;
}

void DataLoader::add_replay(const TokenDataset& data, double fraction) {
  TLM_CHECK(fraction > 0 && fraction < 1 && replay_total_ + fraction < 1, "replay fraction %g (sum %g)", fraction,
            replay_total_ + fraction);
  // Each source's order is keyed away from the main split's and from the other sources'.
  const uint64_t seed = mix64(seed_ ^ (0x7265706c'61790000ULL + replay_.size()));
  replay_.push_back({std::make_unique<DataLoader>(data, 1, T_, seed, rank_, world_), fraction});
  replay_total_ += fraction;
}

void DataLoader::next(Batch& batch, int32_t eos_id) {
  batch.resize(B_, T_);
  int replay_rows = 0;
  uint64_t first_replay_row = 0;
  if (!replay_.empty()) {
    const double per_batch = double(B_) * replay_total_;
    first_replay_row = uint64_t(std::floor(double(batches_) * per_batch));
    replay_rows = int(uint64_t(std::floor(double(batches_ + 1) * per_batch)) - first_replay_row);
  }
  next_rows(batch, 0, B_ - replay_rows);
  for (int r = 0; r < replay_rows; ++r) {
    // Replay row m goes to source i with probability fraction_i / F: one draw per row.
    const uint64_t m = first_replay_row + uint64_t(r);
    const double u = double(Rng(mix64(seed_ ^ 0x6d697865'64726f77ULL), m).next_u64() >> 11) * 0x1.0p-53 * replay_total_;
    size_t i = 0;
    for (double acc = replay_[0].fraction; i + 1 < replay_.size() && u >= acc; acc += replay_[++i].fraction) {
    }
    replay_[i].loader->next_rows(batch, B_ - replay_rows + r, 1);
  }
  ++batches_;
  batch.compute_documents(eos_id);
}

std::vector<uint64_t> eval_windows(const TokenDataset& data, int T, uint64_t max_tokens, int rank, int world) {
  uint64_t n = num_windows(data.size(), T);
  if (max_tokens > 0) n = std::min(n, std::max<uint64_t>(1, max_tokens / uint64_t(T)));
  std::vector<uint64_t> w;
  for (uint64_t i = uint64_t(rank); i < n; i += uint64_t(world)) w.push_back(i);
  return w;
}

}  // namespace tlm
