// Data loader: the token stream over several shards, windows and targets, deterministic and
// complete epochs, resumable positions, data-parallel disjointness, document positions, the
// evaluation windows and meta.json. Shards are written with ShardWriter into a temporary
// directory, with small shards so windows cross shard boundaries.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/check.h"
#include "data/shards.h"
#include "train/data_loader.h"
#include "fixtures.h"

namespace tlm {
namespace {

using testing::TempDir;

constexpr uint32_t kEos = 0;
constexpr uint32_t kVocab = 1000;

// Documents of lengths 1..12 cycling, token values 1..999 from a counter, each closed by eos.
// Returns the whole stream as written.
std::vector<uint32_t> write_split(const std::string& dir, const std::string& split, size_t docs, uint64_t shard_tokens) {
  ShardWriter w(dir, split, kVocab, shard_tokens);
  std::vector<uint32_t> stream;
  uint32_t next = 1;
  for (size_t d = 0; d < docs; ++d) {
    std::vector<uint32_t> doc;
    for (size_t k = 0; k < 1 + d % 12; ++k) {
      doc.push_back(next);
      next = next % (kVocab - 1) + 1;
    }
    doc.push_back(kEos);
    w.add_document(doc);
    stream.insert(stream.end(), doc.begin(), doc.end());
  }
  w.finish();
  return stream;
}

// One shard set for the whole suite (writing shards fsyncs every file).
class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    stream_ = new std::vector<uint32_t>(write_split(dir_->path(), "train", 200, 97));  // ~1500 tokens, ~16 shards
  }
  static void TearDownTestSuite() {
    delete stream_;
    delete dir_;
  }
  void SetUp() override { data_ = TokenDataset(dir_->path(), "train"); }
  static TempDir* dir_;
  static std::vector<uint32_t>* stream_;
  TokenDataset data_;
};
TempDir* LoaderTest::dir_ = nullptr;
std::vector<uint32_t>* LoaderTest::stream_ = nullptr;

TEST_F(LoaderTest, StreamConcatenatesShards) {
  ASSERT_GT(data_.num_shards(), 5u);
  ASSERT_EQ(data_.size(), stream_->size());
  std::vector<int32_t> all(stream_->size());
  data_.copy(0, all.size(), all.data());
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(uint32_t(all[i]), (*stream_)[i]) << i;
  // A range crossing several shard boundaries.
  std::vector<int32_t> mid(300);
  data_.copy(50, 300, mid.data());
  for (size_t i = 0; i < mid.size(); ++i) ASSERT_EQ(uint32_t(mid[i]), (*stream_)[50 + i]);
  EXPECT_THROW(data_.copy(data_.size() - 5, 6, mid.data()), InternalError);
}

TEST_F(LoaderTest, WindowsHoldInputsAndNextTokenTargets) {
  const int T = 16;
  EXPECT_EQ(num_windows(data_.size(), T), (data_.size() - 1) / T);
  EXPECT_EQ(num_windows(17, 16), 1u);
  EXPECT_EQ(num_windows(16, 16), 0u);
  Batch b;
  b.resize(1, T);
  uint64_t last = num_windows(data_.size(), T) - 1;
  for (uint64_t w : {uint64_t(0), uint64_t(7), last}) {
    fill_window(data_, w, T, b, 0);
    for (int t = 0; t < T; ++t) {
      EXPECT_EQ(uint32_t(b.tokens[t]), (*stream_)[w * T + t]);
      EXPECT_EQ(uint32_t(b.targets[t]), (*stream_)[w * T + t + 1]);
    }
  }
}

TEST_F(LoaderTest, EpochVisitsEveryWindowOnceInASeededOrder) {
  const int T = 8;
  DataLoader a(data_, 2, T, 42), b(data_, 2, T, 42), c(data_, 2, T, 43);
  const uint64_t n = a.num_windows();
  std::vector<uint64_t> e0, e1, other;
  for (uint64_t i = 0; i < n; ++i) {
    e0.push_back(a.window_at(0, i));
    e1.push_back(a.window_at(1, i));
    other.push_back(c.window_at(0, i));
    ASSERT_EQ(b.window_at(0, i), e0.back());
  }
  std::vector<uint64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i);  // a permutation
  EXPECT_NE(e0, e1);     // a new order each epoch
  EXPECT_NE(e0, other);  // and per seed
  uint64_t identity = 0;
  for (uint64_t i = 0; i < n; ++i) identity += e0[i] == i;
  EXPECT_LT(identity, n / 4);  // shuffled (a random permutation fixes ~1 point)
}

TEST_F(LoaderTest, NextCoversAnEpochAndIsDeterministic) {
  const int T = 8;
  DataLoader a(data_, 1, T, 7), b(data_, 1, T, 7);
  std::multiset<std::vector<int32_t>> seen, all;
  Batch w;
  w.resize(1, T);
  for (uint64_t i = 0; i < a.num_windows(); ++i) {
    fill_window(data_, i, T, w, 0);
    all.insert(w.tokens);
  }
  Batch ba, bb;
  for (uint64_t i = 0; i < a.num_windows(); ++i) {
    a.next(ba, kEos);
    b.next(bb, kEos);
    ASSERT_EQ(ba.tokens, bb.tokens);
    ASSERT_EQ(ba.targets, bb.targets);
    seen.insert(ba.tokens);
  }
  EXPECT_EQ(seen, all);
  EXPECT_EQ(a.position(), (LoaderPosition{1, 0}));
}

TEST_F(LoaderTest, SeekResumesExactlyAcrossEpochs) {
  const int T = 8, B = 5;
  DataLoader a(data_, B, T, 99);
  Batch batch;
  const uint64_t steps_per_epoch = a.num_windows() / B;
  for (uint64_t i = 0; i < steps_per_epoch + 3; ++i) a.next(batch, kEos);  // past an epoch boundary
  LoaderPosition p = a.position();
  EXPECT_EQ(p.epoch, 1u);
  DataLoader b(data_, B, T, 99);
  b.seek(p);
  Batch ba, bb;
  for (int i = 0; i < 2 * int(steps_per_epoch); ++i) {
    a.next(ba, kEos);
    b.next(bb, kEos);
    ASSERT_EQ(ba.tokens, bb.tokens) << i;
    ASSERT_EQ(ba.pos, bb.pos);
  }
  EXPECT_THROW(b.seek({0, a.num_windows()}), UserError);
}

TEST_F(LoaderTest, RanksTakeDisjointBlocksOfTheSameSequence) {
  const int T = 8, B = 3, W = 4;
  DataLoader whole(data_, B * W, T, 5);
  std::vector<DataLoader> ranks;
  for (int r = 0; r < W; ++r) ranks.emplace_back(data_, B, T, 5, r, W);
  Batch all, part;
  for (int step = 0; step < 40; ++step) {  // several epochs (~23 windows per step of ~190)
    whole.next(all, kEos);
    for (int r = 0; r < W; ++r) {
      ranks[size_t(r)].next(part, kEos);
      for (int i = 0; i < B * T; ++i) ASSERT_EQ(part.tokens[size_t(i)], all.tokens[size_t(r * B * T + i)]) << step;
      ASSERT_EQ(ranks[size_t(r)].position(), whole.position());
    }
  }
}

// Replay: two in-memory sources whose token values tell them apart (main 1..999, old A
// 1001..1999, old B 2001..2999). Each batch holds exactly floor((n+1)·B·F) - floor(n·B·F) replay
// rows, the sources share them by their fractions, every rank sees the same split of rows, and
// a loader moved to the saved positions continues the same batches.
TEST(ReplayLoader, RowsFollowTheFractionsOnEveryRankAndResume) {
  auto source = [](uint32_t base, size_t n) {
    std::vector<uint32_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = i % 17 == 0 ? kEos : base + uint32_t(i % 999);
    return TokenDataset::from_tokens(std::move(ids), 3000, "mem" + std::to_string(base));
  };
  const TokenDataset main = source(1, 4000), old_a = source(1001, 3000), old_b = source(2001, 2000);
  const int B = 8, T = 8;
  auto loader = [&](int rank, int world) {
    DataLoader l(main, B, T, 3, rank, world);
    l.add_replay(old_a, 0.2);
    l.add_replay(old_b, 0.1);
    return l;
  };
  DataLoader r0 = loader(0, 2), r1 = loader(1, 2);
  Batch b0, b1;
  int rows[3] = {0, 0, 0};
  for (uint64_t n = 0; n < 100; ++n) {
    r0.next(b0, kEos);
    r1.next(b1, kEos);
    int replay = 0;
    for (int row = 0; row < B; ++row) {
      // An eos target may hide the source: take the row's first non-eos target.
      int s0 = -1, s1 = -1;
      for (int t = 0; t < T && (s0 < 0 || s1 < 0); ++t) {
        if (s0 < 0 && b0.targets[size_t(row) * T + t] != int32_t(kEos)) s0 = b0.targets[size_t(row) * T + t] / 1000;
        if (s1 < 0 && b1.targets[size_t(row) * T + t] != int32_t(kEos)) s1 = b1.targets[size_t(row) * T + t] / 1000;
      }
      ASSERT_EQ(s0, s1) << "ranks disagree on the source of row " << row << " of batch " << n;
      ++rows[s0];
      replay += s0 > 0;
    }
    ASSERT_NE(b0.tokens, b1.tokens);  // the same rows' sources, different windows
    const double per = B * 0.3;
    ASSERT_EQ(replay, int(std::floor((n + 1) * per) - std::floor(n * per))) << "batch " << n;
  }
  EXPECT_EQ(rows[1] + rows[2], 240);  // exactly 30% of 800 rows
  EXPECT_NEAR(rows[1], 160, 30);      // shared 2:1 by a per-row draw (deterministic)

  // Resume: a new loader moved to the saved positions draws the same next batches.
  DataLoader again = loader(0, 2);
  again.seek(r0.position());
  again.seek_batches(r0.batches());
  for (size_t i = 0; i < 2; ++i) again.replay(i).seek(r0.replay(i).position());
  for (int n = 0; n < 20; ++n) {
    r0.next(b0, kEos);
    again.next(b1, kEos);
    ASSERT_EQ(b0.tokens, b1.tokens) << n;
  }
}

TEST_F(LoaderTest, DocumentPositionsRestartAtEveryEos) {
  const int T = 32;
  DataLoader a(data_, 4, T, 1);
  Batch b;
  a.next(b, kEos);
  for (int r = 0; r < b.B; ++r) {
    int start = 0;
    for (int t = 0; t < T; ++t) {
      size_t i = size_t(r) * T + t;
      if (b.tokens[i] == int32_t(kEos)) start = t;
      ASSERT_EQ(b.doc_start[i], start);
      ASSERT_EQ(b.pos[i], t - start);
    }
  }
  // The data has a document of every length up to 13, so some rows have several documents.
  EXPECT_NE(std::count(b.tokens.begin(), b.tokens.end(), int32_t(kEos)), 0);
}

TEST_F(LoaderTest, EvalWindowsAreTheFirstOnesAndSplitAcrossRanks) {
  const int T = 10;
  auto w = eval_windows(data_, T, 55);
  EXPECT_EQ(w, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(eval_windows(data_, T, 3).size(), 1u);  // at least one window
  EXPECT_EQ(eval_windows(data_, T, 0).size(), num_windows(data_.size(), T));
  auto r1 = eval_windows(data_, T, 55, 1, 2);
  EXPECT_EQ(r1, (std::vector<uint64_t>{1, 3}));
}

TEST(DataLoaderErrors, TooSmallSplitAndMissingMeta) {
  TempDir dir;
  write_split(dir.path(), "train", 1, 1000);  // 2 tokens
  TokenDataset d(dir.path(), "train");
  EXPECT_THROW(DataLoader(d, 1, 8, 0), UserError);
  TokenDataset empty(dir.path(), "val");
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(eval_windows(empty, 8, 0).empty());
  try {
    read_shard_meta(dir.path());
    FAIL() << "no meta.json must be an error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("meta.json"), std::string::npos) << e.what();
  }
  std::ofstream(dir.path() + "/meta.json") << R"({"tokenizer": {"vocab_size": 1000, "eos_id": 0, "vocab_xxh3": "0123456789abcdef"}})";
  ShardMeta m = read_shard_meta(dir.path());
  EXPECT_EQ(m.vocab_size, 1000u);
  EXPECT_EQ(m.eos_id, 0);
  EXPECT_EQ(m.vocab_xxh3, "0123456789abcdef");
  std::ofstream(dir.path() + "/meta.json") << R"({"tokenizer": {"vocab_size": 10, "eos_id": 10, "vocab_xxh3": "x"}})";
  EXPECT_THROW(read_shard_meta(dir.path()), UserError);
}

}  // namespace
}  // namespace tlm
