// Fine-tuning from a model (`train --init-from`): the run starts from the model's weights and
// tokenizer (not from scratch), records where it came from in state.json, resumes bit-exactly,
// gives the same run from every source load_model reads (run directory, HF export, GGUF
// export), and refuses what cannot work (shards of another tokenizer, model flags, a file that
// is not a model, another --tokenizer) with one line and nothing written.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/file.h"
#include "core/hash.h"
#include "core/json.h"
#include "store/model_loader.h"
#include "fixtures.h"
#include "train_fixture.h"

namespace tlm {
namespace {

using testing::RunResult;
using testing::TempDir;

class InitFrom : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string err = testing::train_tiny_run(dir_->path());
    ASSERT_EQ(err, "");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& n) { return (*dir_) / n; }
  static RunResult run(const std::vector<std::string>& args) {
    return testing::run_program(testing::tweetlm(args), dir_->path());
  }
  // 4 steps from `from` on the tiny corpus; `extra` adds flags.
  static std::vector<std::string> finetune(const std::string& from, const std::string& out,
                                           std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"-q", "-t", "1", "train", "--data", path("shards"), "--init-from", from, "--out", out,
                                  "-T", "32", "-b", "4", "--steps", "4", "--lr", "1e-3", "--peak-gflops", "100",
                                  "--sample-every", "0", "--eval-every", "0"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::vector<double> losses(const std::string& out) {
    std::vector<double> l;
    for (const nlohmann::json& m : testing::read_metrics(out))
      if (m.contains("loss")) l.push_back(m["loss"].get<double>());
    return l;
  }
  static TempDir* dir_;
};
TempDir* InitFrom::dir_ = nullptr;

TEST_F(InitFrom, StartsWhereTheBaseEndedRecordsItAndResumesExactly) {
  const std::string out = path("ft");
  RunResult r = run(finetune(path("run"), out));
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::vector<double> base = losses(path("run")), ft = losses(out);
  ASSERT_EQ(ft.size(), 4u);
  // A model from scratch starts near ln(V); the fine-tune starts near where the base ended.
  EXPECT_LT(ft[0], base.front() - 0.5) << ft[0] << " vs the base's first " << base.front();
  EXPECT_LT(ft[0], base.back() + 0.3) << ft[0] << " vs the base's last " << base.back();

  const nlohmann::json state = read_json_file(out + "/step_00000004/state.json");
  ASSERT_TRUE(state.contains("init_from")) << state.dump();
  EXPECT_EQ(state["init_from"]["path"], path("run"));
  LoadedModel lm = load_model(path("run"));
  EXPECT_EQ(state["init_from"]["params_xxh3"],
            hex64(hash64(lm.model->params(), lm.model->num_params() * sizeof(float))));
  EXPECT_EQ(state["optimizer"]["t"], 4);  // a fresh optimizer: 4 steps, not the base's 34

  // Stopped after step 2 and resumed: the uninterrupted curve, and the source carried on.
  const std::string split = path("ft_split");
  r = run(finetune(path("run"), split, {"--stop-after", "2", "--save-every", "2"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run({"-q", "-t", "1", "train", "--out", split, "--resume", "--peak-gflops", "100"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(testing::loss_curve(testing::read_metrics(split)), testing::loss_curve(testing::read_metrics(out)));
  EXPECT_EQ(read_json_file(split + "/step_00000004/state.json")["init_from"], state["init_from"]);
}

TEST_F(InitFrom, EverySourceGivesTheSameRun) {
  RunResult r = run(finetune(path("run"), path("from_run")));
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::vector<double> ref = losses(path("from_run"));
  r = run({"-q", "export", "-m", path("run"), "--format", "hf", "-o", path("hf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run({"-q", "export", "-m", path("run"), "--format", "gguf", "-o", path("m.gguf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* source : {"hf", "m.gguf"}) {
    const std::string out = path(std::string("from_") + source);
    r = run(finetune(path(source), out));
    ASSERT_EQ(r.rc, 0) << source << ": " << r.err;
    const std::vector<double> got = losses(out);
    ASSERT_EQ(got.size(), ref.size()) << source;
    // The same f32 weights and vocabulary; a GGUF stores eps and theta as f32.
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(got[i], ref[i], 1e-5) << source << " step " << i + 1;
  }
}

TEST_F(InitFrom, RefusesWhatCannotWorkWithOneLineAndNothingWritten) {
  auto expect_refused = [&](const std::vector<std::string>& args, const std::string& out, const std::string& says) {
    RunResult r = run(args);
    EXPECT_EQ(r.rc, 2) << says << ": " << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(path_exists(out)) << out;
  };
  // Shards made with another tokenizer.
  RunResult r = run({"-q", "tokenizer", "train", "-i", path("prep"), "-o", path("tok2/tokenizer.json"), "--vocab",
                     "300", "--min-frequency", "1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run({"-q", "tokenize", "-i", path("prep"), "--tokenizer", path("tok2/tokenizer.json"), "-o", path("shards2")});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::string> args = finetune(path("run"), path("bad1"));
  std::replace(args.begin(), args.end(), path("shards"), path("shards2"));
  expect_refused(args, path("bad1"), "was tokenized with another tokenizer than the model " + path("run"));
  // A --tokenizer that is not the model's.
  expect_refused(finetune(path("run"), path("bad2"), {"--tokenizer", path("tok2/tokenizer.json")}), path("bad2"),
                 "is not the tokenizer of the model");
  // Model flags: the model is the one loaded.
  expect_refused(finetune(path("run"), path("bad3"), {"--dim", "32"}), path("bad3"),
                 "the model comes from --init-from");
  // Not a model.
  testing::write_file(path("notes.txt"), "not a model\n");
  expect_refused(finetune(path("notes.txt"), path("bad4")), path("bad4"), path("notes.txt"));
  expect_refused(finetune(path("missing"), path("bad5")), path("bad5"), path("missing"));
}

// Continued pre-training with replay: the new corpus (the tiny corpus's test split, written as a
// train split) with the old shards mixed in at 25% of the rows. The state records the sources'
// positions (6 of 24 rows drawn from the old shards over 6 steps of -b 4), a stopped and resumed
// run gives the same curve, and bad --replay values are one line each.
TEST_F(InitFrom, ReplayMixesTheOldShardsAndResumesExactly) {
  testing::write_file(path("new/train.jsonl"), read_file(path("prep/test.jsonl")));
  testing::write_file(path("new/val.jsonl"), read_file(path("prep/val.jsonl")));
  RunResult r = run({"-q", "tokenize", "-i", path("new"), "--tokenizer", path("tok/tokenizer.json"), "-o",
                     path("new_shards")});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto update = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = finetune(path("run"), out, {"--replay", path("shards") + ":0.25"});
    std::replace(a.begin(), a.end(), path("shards"), path("new_shards"));
    a.back() = path("shards") + ":0.25";  // the replay source stays the old shards
    *(std::find(a.begin(), a.end(), "--steps") + 1) = "6";
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  r = run(update(path("upd"), {}));
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json state = read_json_file(path("upd/step_00000006/state.json"));
  ASSERT_TRUE(state["data"].contains("replay")) << state.dump();
  EXPECT_EQ(state["data"]["batches"], 6);
  EXPECT_EQ(state["data"]["replay"][0]["dir"], path("shards"));
  EXPECT_EQ(state["data"]["replay"][0]["index"], 6);  // one old row per batch of 4
  const uint64_t windows = state["data"]["windows"].get<uint64_t>();  // the new corpus is small
  EXPECT_EQ(state["data"]["epoch"].get<uint64_t>() * windows + state["data"]["index"].get<uint64_t>(), 18u)
      << "three new rows per batch";

  r = run(update(path("upd_split"), {"--stop-after", "3", "--save-every", "3"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run({"-q", "-t", "1", "train", "--out", path("upd_split"), "--resume", "--peak-gflops", "100"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(testing::loss_curve(testing::read_metrics(path("upd_split"))),
            testing::loss_curve(testing::read_metrics(path("upd"))));
  // Without replay the batches, and so the curve, differ.
  std::vector<std::string> plain = update(path("upd_plain"), {});
  plain.erase(std::find(plain.begin(), plain.end(), "--replay"), std::find(plain.begin(), plain.end(), "--replay") + 2);
  r = run(plain);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(losses(path("upd_plain")), losses(path("upd")));

  for (const auto& [bad, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--replay", path("shards") + ":1.5"}, "the fraction must be a number in (0, 1)"},
           {{"--replay", path("shards")}, "is not DIR:FRACTION"},
           {{"--replay", path("shards") + ":0.6", "--replay", path("shards") + ":0.5"}, "the fractions sum to 1.1"},
           {{"--replay", path("missing") + ":0.2"}, path("missing")}}) {
    std::vector<std::string> a = plain;
    a.insert(a.end(), bad.begin(), bad.end());
    std::replace(a.begin(), a.end(), path("upd_plain"), path("upd_bad"));
    r = run(a);
    EXPECT_EQ(r.rc, 2) << says << ": " << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(path_exists(path("upd_bad")));
  }
}

}  // namespace
}  // namespace tlm
