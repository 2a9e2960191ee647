// What the tests of the applications' server routes share (test_serve_apps, test_serve_web):
// beside a tiny trained run (train_fixture.h: DIR/prep, DIR/run), a search index of its corpus
// (DIR/idx), a brand-safety classifier (DIR/safety.json) trained on a synthetic TweetEval whose
// answer is known, and the model's TweetEval scores on it (DIR/eval.json).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>

#include "core/rng.h"
#include "train_fixture.h"

namespace tlm::testing {

// TweetEval-shaped offensive/ and hate/ folders where one word decides the label ("zebra":
// offensive, "xylophone": hate; the other task's word appears at random, so each probe learns to
// ignore it), for `ads train-safety`. The other words are the tiny corpus's; the two markers are
// not, so the tiny model never writes them and its samples (ad copy) are safe.
inline void write_safety_data(const std::string& root) {
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "happy", "day", "coffee", "sun", "we", "love"};
  Rng rng(21);
  for (auto [task, marker, other] : {std::tuple<const char*, const char*, const char*>{"offensive", "zebra", "xylophone"},
                                     {"hate", "xylophone", "zebra"}}) {
    const std::string dir = root + "/" + task;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/mapping.txt") << "0\tnot\n1\t" << task << "\n";
    for (auto [split, n] : {std::pair<const char*, int>{"train", 200}, {"val", 80}, {"test", 80}}) {
      std::ofstream t(dir + "/" + split + "_text.txt"), l(dir + "/" + split + "_labels.txt");
      for (int i = 0; i < n; i++) {
        const int label = int(rng.below(2));
        std::string text;
        for (int k = 0; k < 5; k++) text += std::string(k ? " " : "") + words[rng.below(12)];
        if (rng.below(2)) text += std::string(" ") + other;
        t << text << (label ? std::string(" ") + marker : "") << "\n";
        l << label << "\n";
      }
    }
  }
}

// DIR/idx (tweetlm index of DIR/prep with DIR/run), DIR/safety.json (ads train-safety on
// write_safety_data(DIR/te)) and DIR/eval.json (eval tweeteval --json-out on the same tasks).
// Returns "" or the error.
inline std::string make_app_files(const std::string& d) {
  RunResult r = run_program(tweetlm({"-q", "index", "-i", d + "/prep", "-m", d + "/run", "-o", d + "/idx"}), d);
  if (r.rc != 0) return "index failed: " + r.err;
  write_safety_data(d + "/te");
  r = run_program(tweetlm({"-q", "ads", "train-safety", "--data", d + "/te", "-m", d + "/run", "-o", d + "/safety.json",
                           "--max-iter", "100"}),
                  d);
  if (r.rc != 0) return "train-safety failed: " + r.err;
  // DIR/eval.json: TweetEval scores of the model on the same two synthetic tasks (serve --eval).
  r = run_program(tweetlm({"-q", "eval", "tweeteval", "-m", d + "/run", "--data", d + "/te", "--tasks", "offensive,hate",
                           "--json-out", d + "/eval.json"}),
                  d);
  return r.rc == 0 ? "" : "eval tweeteval failed: " + r.err;
}

}  // namespace tlm::testing
