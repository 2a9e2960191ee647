// Helpers shared by the tests that run the real `tweetlm train` (test_train, test_dist): start
// a program with its output in files, a small synthetic tweet corpus taken through
// `tokenizer train` and `tokenize`, and a run's metrics.jsonl read back as a loss curve.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/rng.h"

namespace tlm::testing {

using Env = std::vector<std::pair<std::string, std::string>>;

// Starts argv[0] with argv (and extra environment), stdout and stderr to the files out/err.
inline pid_t spawn_program(const std::vector<std::string>& argv, const std::string& out, const std::string& err,
                           const Env& env = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// The exit code, or 128 + the signal that ended the process.
inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct RunResult {
  int rc;
  std::string out, err;
};

// Runs argv to completion with its output in log_dir/outN, log_dir/errN.
inline RunResult run_program(const std::vector<std::string>& argv, const std::string& log_dir, const Env& env = {}) {
  static int n = 0;
  std::string out = log_dir + "/out" + std::to_string(n), err = log_dir + "/err" + std::to_string(n);
  ++n;
  int rc = wait_exit(spawn_program(argv, out, err, env));
  return {rc, read_file(out), read_file(err)};
}

// argv for the tweetlm binary with `args`: TLM_BINARY (the build's), or $TLM_TEST_BINARY when
// the tests run elsewhere than where they were built (scripts/device-check.sh).
inline std::vector<std::string> tweetlm(std::vector<std::string> args) {
  const char* moved = std::getenv("TLM_TEST_BINARY");
  args.insert(args.begin(), moved && *moved ? moved : TLM_BINARY);
  return args;
}

// The repository root (tests read tools/node and tests/node from it).
inline std::string repo_root() {
  return std::filesystem::weakly_canonical(std::filesystem::path(TLM_TEST_DATA) / ".." / "..").string();
}

// "" when node and the npm package `package` (under tools/node/node_modules) are there, else
// why not, naming scripts/setup.sh: the tests that need a real client FAIL with it, never skip.
inline std::string node_client_problem(const std::string& package) {
  if (std::system("node --version >/dev/null 2>&1") != 0) return "node does not run: run scripts/setup.sh";
  if (!std::filesystem::exists(repo_root() + "/tools/node/node_modules/" + package))
    return "tools/node/node_modules/" + package + " is missing: run scripts/setup.sh";
  return "";
}

// DIR/prep/{train,val,test}.jsonl of short synthetic tweets (a small word list, so a tiny model
// learns fast), DIR/tok/tokenizer.json (vocabulary 320) and DIR/shards. Returns "" or the error.
inline std::string make_tiny_corpus(const std::string& dir) {
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "happy", "day", "for", "coffee", "rain", "sun",
                         "we", "love", "new", "music", "game", "tonight", "so", "good", "@user", "http", "lol", "🙂"};
  Rng rng(11);
  make_dirs(dir + "/prep");
  for (auto [split, n] : {std::pair<const char*, int>{"train", 400}, {"val", 60}, {"test", 30}}) {
    std::ofstream f(dir + "/prep/" + split + ".jsonl");
    for (int i = 0; i < n; ++i) {
      std::string text;
      int len = 3 + int(rng.below(10));
      for (int k = 0; k < len; ++k) {
        if (k) text += ' ';
        text += words[rng.below(24)];
      }
      f << nlohmann::json({{"id", std::to_string(i)}, {"text", text}}).dump() << "\n";
    }
  }
  RunResult r = run_program(tweetlm({"-q", "tokenizer", "train", "-i", dir + "/prep", "-o", dir + "/tok/tokenizer.json",
                                     "--vocab", "320", "--min-frequency", "1"}),
                            dir);
  if (r.rc != 0) return r.err;
  r = run_program(tweetlm({"-q", "tokenize", "-i", dir + "/prep", "--tokenizer", dir + "/tok/tokenizer.json", "-o", dir + "/shards"}),
                  dir);
  return r.rc == 0 ? "" : r.err;
}

// DIR/run: the export tests' trained checkpoint, 30 steps of a tiny Llama with grouped-query
// attention and untied embeddings on make_tiny_corpus(DIR). Returns "" or the error.
inline std::string train_tiny_run(const std::string& dir) {
  if (std::string err = make_tiny_corpus(dir); !err.empty()) return err;
  RunResult r = run_program(tweetlm({"-q", "-t", "1", "train", "--data", dir + "/shards", "--tokenizer",
                                     dir + "/tok/tokenizer.json", "--out", dir + "/run", "--model", "tiny", "--dim", "64",
                                     "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "96", "-T", "32",
                                     "-b", "4", "--steps", "30", "--lr", "3e-3", "--peak-gflops", "100",
                                     "--sample-every", "0"}),
                            dir);
  return r.rc == 0 ? "" : "train failed: " + r.err;
}

inline std::vector<nlohmann::json> read_metrics(const std::string& run_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream f(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The numbers that define a loss curve, per record: everything except timings.
inline std::vector<std::string> loss_curve(const std::vector<nlohmann::json>& m) {
  std::vector<std::string> out;
  for (nlohmann::json r : m) {
    r.erase("ms");
    r.erase("tokens_per_s");
    r.erase("mfu");
    out.push_back(r.dump());
  }
  return out;
}

inline bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// Open MPI unloads its plugins at MPI_Finalize, so in the sanitizer build the allocations they
// keep for the life of the process show up as leaks of "<unknown module>" that no suppression
// can name; leak checking is therefore off inside MPI ranks (address and UB checks stay on, and
// the single-process tests check the same training code for leaks).
inline std::vector<std::string> mpirun(int np, const std::vector<std::string>& argv, const Env& env = {}) {
  // Shared-memory transfers without cross-memory attach: containers without CAP_SYS_PTRACE
  // refuse process_vm_readv, and the tests must run there too.
  std::vector<std::string> a = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", std::to_string(np),
                                "--mca", "btl_vader_single_copy_mechanism", "none",
                                "-x", "LSAN_OPTIONS=detect_leaks=0"};
  for (const auto& [k, v] : env) a.insert(a.end(), {"-x", k + "=" + v});
  a.insert(a.end(), argv.begin(), argv.end());
  return a;
}

}  // namespace tlm::testing
