// End-to-end tier for `prepare`: the real TweetEval tweets in ../shared/data/tweeteval (train
// and val text only, as the data rules say) and the Debian fortune files, through the library
// and through the tweetlm binary. The expected numbers are counted independently here, from the
// raw files, rather than taken from a previous run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/threads.h"
#include "data/prepare.h"

namespace fs = std::filesystem;
using namespace tlm;

namespace {

const std::string kTweetEval = std::string(TLM_SHARED_DIR) + "/data/tweeteval";
const std::string kFortunes = "/usr/share/games/fortunes";

std::vector<std::string> tweeteval_files() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(kTweetEval)) {
    std::string name = e.path().filename().string();
    if (name == "train_text.txt" || name == "val_text.txt") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<std::string> lines;
  std::string l;
  while (std::getline(f, l)) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(l);
  }
  return lines;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string temp_dir(const std::string& tag) {
  std::string d = (fs::temp_directory_path() / ("tlm_e2e_" + tag + "_" + std::to_string(::getpid()))).string();
  fs::remove_all(d);
  return d;
}

size_t count_output_lines(const std::string& dir, std::set<std::string>* texts = nullptr) {
  size_t n = 0;
  for (const char* split : {"train", "val", "test"}) {
    for (const auto& line : read_lines(dir + "/" + split + ".jsonl")) {
      auto j = nlohmann::json::parse(line);  // throws (fails the test) on invalid JSON
      std::string t = j.at("text").get<std::string>();
      EXPECT_FALSE(t.empty());
      EXPECT_EQ(t.find("  "), std::string::npos) << "whitespace not collapsed: " << t;
      if (texts) {
        EXPECT_TRUE(texts->insert(t).second) << "duplicate in output: " << t;
      }
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST(E2EPrepare, TweetEvalTrainAndValText) {
  ASSERT_TRUE(fs::is_directory(kTweetEval)) << "shared TweetEval data missing at " << kTweetEval
                                            << " (tests read ../shared beside the checkout)";
  auto files = tweeteval_files();
  ASSERT_GE(files.size(), 12u);
  // Independent counts from the raw lines.
  size_t lines = 0, retweets = 0, blank = 0, raw_dups = 0;
  std::set<std::string> raw;
  for (const auto& f : files) {
    for (const auto& l : read_lines(f)) {
      ++lines;
      size_t first = l.find_first_not_of(" \t");
      if (first != std::string::npos && l.compare(first, 4, "RT @") == 0) ++retweets;
      else if (l.find_first_not_of(" \t") == std::string::npos) ++blank;
      else if (!raw.insert(l).second) ++raw_dups;
    }
  }
  PrepareOptions opt;
  opt.inputs = files;
  opt.outdir = temp_dir("tweeteval");
  opt.read.format = Format::text;
  PrepareReport rep = prepare(opt);

  EXPECT_EQ(rep.records, lines);
  EXPECT_EQ(rep.read_by_format[int(SourceFormat::text)], lines);
  EXPECT_EQ(rep.malformed, 0u);
  EXPECT_EQ(rep.retweets, retweets);
  EXPECT_GE(rep.empty, blank);
  // Raw-identical lines must be duplicates after normalization too; normalization can only merge more.
  EXPECT_GE(rep.duplicates, raw_dups);
  EXPECT_EQ(rep.kept + rep.retweets + rep.wrong_lang + rep.empty + rep.too_short + rep.duplicates +
                rep.near_duplicates + rep.malformed,
            rep.records);
  EXPECT_EQ(rep.split_counts[0] + rep.split_counts[1] + rep.split_counts[2], rep.kept);
  std::set<std::string> texts;
  EXPECT_EQ(count_output_lines(opt.outdir, &texts), rep.kept);
  // 98/1/1 split by hash: val and test each near 1% (binomial sd ~ 0.03% here).
  EXPECT_NEAR(double(rep.split_counts[1]) / rep.kept, 0.01, 0.002);
  EXPECT_NEAR(double(rep.split_counts[2]) / rep.kept, 0.01, 0.002);
  // TweetEval text already has @user; no raw link survives normalization.
  for (const auto& t : texts) {
    ASSERT_EQ(t.find("https://"), std::string::npos) << t;
    ASSERT_EQ(t.find("&amp;"), std::string::npos) << t;
  }
  uint64_t hist_total = 0;
  for (uint64_t c : rep.length_hist) hist_total += c;
  EXPECT_EQ(hist_total, rep.kept);
  // report.json on disk agrees with the returned report.
  auto j = nlohmann::json::parse(slurp(opt.outdir + "/report.json"));
  EXPECT_EQ(j["kept"].get<uint64_t>(), rep.kept);
  EXPECT_EQ(j["records"].get<uint64_t>(), lines);
  EXPECT_EQ(j["dropped"]["duplicate"].get<uint64_t>(), rep.duplicates);

  // Same inputs, same outputs: a second run is byte-identical.
  std::string out0 = opt.outdir, out1 = temp_dir("tweeteval_again");
  opt.outdir = out1;
  prepare(opt);
  for (const char* s : {"train.jsonl", "val.jsonl", "test.jsonl"}) EXPECT_EQ(slurp(out0 + "/" + s), slurp(out1 + "/" + s)) << s;
  fs::remove_all(out0);
  fs::remove_all(out1);
}

TEST(E2EPrepare, TweetEvalSameOutputWithOneAndTwoThreads) {
  ASSERT_TRUE(fs::is_directory(kTweetEval)) << "shared TweetEval data missing at " << kTweetEval;
  PrepareOptions opt;
  opt.inputs = tweeteval_files();
  opt.read.format = Format::text;
  opt.near_dup = 0.8;
  std::string a = temp_dir("t1"), b = temp_dir("t2");
  set_num_threads(1);
  opt.outdir = a;
  PrepareReport ra = prepare(opt);
  set_num_threads(2);
  opt.outdir = b;
  PrepareReport rb = prepare(opt);
  set_num_threads(0);
  EXPECT_EQ(ra.kept, rb.kept);
  EXPECT_EQ(ra.near_duplicates, rb.near_duplicates);
  EXPECT_GT(ra.near_duplicates, 0u);  // TweetEval has reposts differing by a few characters
  for (const char* s : {"train.jsonl", "val.jsonl", "test.jsonl"}) EXPECT_EQ(slurp(a + "/" + s), slurp(b + "/" + s)) << s;
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(E2EPrepare, FortuneFilesThroughTheBinary) {
  ASSERT_TRUE(fs::is_directory(kFortunes)) << kFortunes << " missing: run scripts/setup.sh (Debian package fortunes)";
  // Independent count: non-blank entries between '%' lines in every regular, non-binary file.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(kFortunes)) {
    if (!e.is_regular_file() || e.is_symlink() || e.path().filename().string()[0] == '.') continue;
    std::string content = slurp(e.path().string());
    if (content.find('\0') != std::string::npos) continue;  // .dat index files
    std::string entry;
    auto flush = [&] {
      if (entry.find_first_not_of(" \t\r\n") != std::string::npos) ++entries;
      entry.clear();
    };
    for (const auto& l : read_lines(e.path().string())) {
      if (l == "%") flush();
      else entry += l + "\n";
    }
    flush();
  }
  ASSERT_GT(entries, 1000u);
  std::string out = temp_dir("fortune");
  std::string cmd = std::string(TLM_BINARY) + " -q prepare -i " + kFortunes + " -o " + out + " --min-chars 1 --json > " +
                    out + ".json";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto j = nlohmann::json::parse(slurp(out + ".json"));
  EXPECT_EQ(j["read_by_format"]["fortune"].get<size_t>(), entries);
  EXPECT_EQ(j["malformed"].get<size_t>(), 0u);
  EXPECT_EQ(count_output_lines(out), j["kept"].get<size_t>());
  EXPECT_EQ(j["kept"].get<size_t>() + j["dropped"]["duplicate"].get<size_t>() + j["dropped"]["too_short"].get<size_t>(),
            entries);
  fs::remove_all(out);
  fs::remove(out + ".json");
}
