// Fine-tuning from a model (`train --init-from`): the run starts from the model's weights and
// tokenizer (not from scratch), records where it came from in state.json, resumes bit-exactly,
// gives the same run from every source load_model reads (run directory, HF export, GGUF
// export), and refuses what cannot work (shards of another tokenizer, model flags, a file that
// is not a model, another --tokenizer) with one line and nothing written.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace tlm
