// Unit tests for src/core: checks and errors, files (mmap, atomic writes), hashing, the
// counter-based RNG (known-answer vectors from Random123), progress formatting, metrics,
// JSON escaping, aligned buffers and thread control.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/buffer.h"
#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/metrics_log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/threads.h"

namespace fs = std::filesystem;
using namespace tlm;

namespace {

std::string temp_dir() {
  std::string d = (fs::temp_directory_path() / ("tlm_core_" + std::to_string(::getpid()))).string();
  fs::create_directories(d);
  return d;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST(Check, FormatsAndThrowsInternalErrorWithLocation) {
  EXPECT_EQ(strprintf("%d-%s", 7, "x"), "7-x");
  try {
    int shape = 3;
    TLM_CHECK(shape == 4, "shape is %d, expected %d", shape, 4);
    FAIL() << "TLM_CHECK did not throw";
  } catch (const InternalError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("shape == 4"), std::string::npos) << m;
    EXPECT_NE(m.find("test_core.cpp"), std::string::npos) << m;
    EXPECT_NE(m.find("shape is 3, expected 4"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(TLM_CHECK(1 + 1 == 2, "never"));
}

TEST(Check, UserErrorNamesInputAndProblem) {
  UserError e = user_error("data.csv", "line %d: bad quote", 12);
  EXPECT_EQ(std::string(e.what()), "data.csv: line 12: bad quote");
  EXPECT_EQ(e.input(), "data.csv");
  EXPECT_EQ(e.problem(), "line 12: bad quote");
}

TEST(File, AtomicWriteReplacesOnlyOnCommit) {
  std::string dir = temp_dir(), path = dir + "/out.txt";
  atomic_write_file(path, "old");
  {
    AtomicFile f(path);
    f.write("new content");
    // Not committed: destructor must discard the temp file and leave "old".
  }
  EXPECT_EQ(slurp(path), "old");
  {
    AtomicFile f(path);
    f.write("new ");
    f.write("content");
    f.commit();
  }
  EXPECT_EQ(slurp(path), "new content");
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  fs::remove_all(dir);
}

TEST(File, AtomicWriteToMissingDirectoryIsUserError) {
  EXPECT_THROW(atomic_write_file("/nonexistent-dir-tlm/x.txt", "x"), UserError);
}

TEST(File, MappedFileReadsContentAndHandlesEmptyAndMissing) {
  std::string dir = temp_dir();
  atomic_write_file(dir + "/a", "hello\nworld");
  atomic_write_file(dir + "/empty", "");
  MappedFile m(dir + "/a");
  EXPECT_EQ(m.view(), "hello\nworld");
  MappedFile e(dir + "/empty");
  EXPECT_EQ(e.size(), 0u);
  try {
    MappedFile missing(dir + "/missing");
    FAIL();
  } catch (const UserError& err) {
    EXPECT_EQ(err.input(), dir + "/missing");
  }
  EXPECT_THROW(MappedFile d(dir), UserError);
  EXPECT_EQ(read_file(dir + "/a"), "hello\nworld");
  fs::remove_all(dir);
}

TEST(Hash, MatchesPublishedXxh3AndStreamsIdentically) {
  // XXH3_64bits("") from the xxHash reference test vectors.
  EXPECT_EQ(hash64("", 0), 0x2D06800538D394C2ULL);
  std::string data(10000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  Hasher h;
  h.update(data.substr(0, 3));
  h.update(data.substr(3, 4000));
  h.update(data.substr(4003));
  EXPECT_EQ(h.digest(), hash64(data));
  EXPECT_NE(hash64("a"), hash64("b"));
  EXPECT_NE(hash64("a", 1), hash64("a", 2));
}

TEST(Rng, PhiloxKnownAnswerVectors) {
  // Random123 kat_vectors, philox4x32 with 10 rounds.
  auto r0 = philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(r0, (std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  auto r1 = philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff});
  EXPECT_EQ(r1, (std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  auto r2 = philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0});
  EXPECT_EQ(r2, (std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Rng, CounterBasedPositionsReproduce) {
  Rng a(42, 3);
  std::vector<uint32_t> seq;
  for (int i = 0; i < 100; ++i) seq.push_back(a.next_u32());
  Rng b(42, 3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.at(i), seq[i]);
  b.seek(57);
  EXPECT_EQ(b.next_u32(), seq[57]);
  EXPECT_NE(Rng(42, 4).at(0), seq[0]);  // another stream
  EXPECT_NE(Rng(43, 3).at(0), seq[0]);  // another seed
}

TEST(Rng, DistributionsHaveTheRightMoments) {
  Rng r(7);
  const int n = 200000;
  double sum = 0, sumsq = 0, usum = 0;
  std::vector<int> buckets(10, 0);
  for (int i = 0; i < n; ++i) {
    float u = r.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    usum += u;
    uint32_t k = r.below(10);
    ASSERT_LT(k, 10u);
    buckets[k]++;
    double z = r.normal();
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sumsq += z * z;
  }
  EXPECT_NEAR(usum / n, 0.5, 0.005);
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sumsq / n, 1.0, 0.02);
  for (int c : buckets) EXPECT_NEAR(c, n / 10, n / 10 * 0.05);
}

TEST(Progress, FormatsRateEtaAndUnits) {
  std::string s = format_progress("prepare", 50e6, 100e6, 2.0, ProgressUnit::bytes, "7 tweets");
  EXPECT_NE(s.find("50.0 MB / 100.0 MB (50%)"), std::string::npos) << s;
  EXPECT_NE(s.find("25.0 MB/s"), std::string::npos) << s;
  EXPECT_NE(s.find("ETA 2s"), std::string::npos) << s;
  EXPECT_NE(s.find("7 tweets"), std::string::npos) << s;
  EXPECT_EQ(format_duration(75), "1m15s");
  EXPECT_EQ(format_duration(7322), "2h02m");
  EXPECT_EQ(format_quantity(12345, ProgressUnit::count), "12.3k");
  std::string unknown_total = format_progress("x", 10, 0, 1.0, ProgressUnit::count);
  EXPECT_EQ(unknown_total.find("ETA"), std::string::npos) << unknown_total;
}

TEST(Metrics, WritesOneJsonObjectPerLine) {
  std::string dir = temp_dir(), path = dir + "/m.jsonl";
  {
    MetricsWriter w(path);
    w.write({{"step", 1}, {"loss", 2.5}});
    w.write({{"step", 2}, {"loss", 2.25}, {"note", "caf\xc3\xa9"}});
  }
  std::ifstream f(path);
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["step"].get<int>(), ++n);
  }
  EXPECT_EQ(n, 2);
  MetricsWriter off;
  EXPECT_FALSE(off.enabled());
  off.write({{"ignored", true}});
  fs::remove_all(dir);
}

TEST(Json, EscapesControlQuotesAndKeepsUtf8) {
  std::string out;
  std::string in = "a\"b\\c\n\t\x01 caf\xc3\xa9 \xf0\x9f\x98\x80";
  append_json_string(out, in);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001 caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), in);
}

TEST(Buffer, AlignedAndZeroed) {
  AlignedBuffer<float> b(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
  for (float x : b) EXPECT_EQ(x, 0.0f);
  AlignedBuffer<float> moved = std::move(b);
  EXPECT_EQ(moved.size(), 1000u);
  EXPECT_EQ(b.size(), 0u);
}

TEST(Threads, SetAndQuery) {
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), hardware_threads());
}
