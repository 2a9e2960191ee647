// bench_tokenizer: byte-level BPE training time and encoding throughput, ours against Hugging
// Face tokenizers and tiktoken (the pinned npm clients, run in the same process tree through the
// scripts in tests/node). Goals (issue 3): training >= 3x faster than HF at the same vocab size;
// encoding >= 1.5x tiktoken on one thread, and near-linear with threads.
//
// Usage:
//   bench_tokenizer [--dir DIR] [--synthetic-mb N] [--json-mb N] [--json FILE] [--vocab V,...] [--quick]
//                   [--no-peers] [--repo DIR] [--shared DIR]
//
//   --dir DIR         where generated inputs live, reused while name and size match (default
//                     /tmp/tweetlm-bench)
//   --synthetic-mb N  synthetic corpus size (default 100): tweets of bench/synthetic_tweets.h
//                     (JSON of --json-mb MB, default 1024, the file bench_prepare uses) run through
//                     `prepare` (HTML entities, NFC, whitespace collapsed), one text per line, cut
//                     to N MB at a line end. Mentions and links are kept: the generator's word
//                     lists are small, and with @user / http for them the text has ~30k distinct
//                     pre-tokens, too few for min_frequency 2 to reach a 30000 vocabulary.
//   --vocab V,...     our vocabulary sizes (default 8192,30000,32000; 30000 is HF's)
//   --quick           16 MB synthetic corpus (from 128 MB of JSON)
//   --no-peers        ours only (no Node)
//
// Corpora: the TweetEval train + val text (../shared/data/tweeteval, every train_text.txt and
// val_text.txt: 7.86 million bytes, 7.5 MB in these units) and the synthetic one. Rows:
//  - train: ours (train_bpe on the text file, all threads) per vocab size; HF's trainer once.
//    The binding's train() always runs BpeTrainer::default() (vocab 30000, min_frequency 0), so
//    HF is timed at 30000 and the training goal compares ours at 30000 with it.
//  - encode, GPT-2's vocabulary (tokenizer.json from tests/node/gpt2_tokenizer_json.js): ours
//    (encode_batch over the lines) on 1 thread and all; HF (encodeBatch over the lines, batches
//    of 4096) with RAYON_NUM_THREADS=1 and all; tiktoken (WebAssembly, one thread; whole text in
//    ~1 MB chunks, as tiktoken is fastest on long strings).
//  - encode, our vocabulary of the largest size trained on that corpus: ours, 1 thread and all.
// Each encode row loads its tokenizer afresh (empty piece cache). Times exclude loading. MB is
// 2^20 bytes of UTF-8 text encoded (lines without their newlines, except tiktoken's chunks).
// Peak RSS: ours is the process's VmHWM over the row (reset between rows through
// /proc/self/clear_refs), so it includes the corpus held in memory; the peers' is their whole
// Node process (maxRSS). Tests never look at these numbers.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/file.h"
#include "core/threads.h"
#include "data/prepare.h"
#include "bench_util.h"
#include "synthetic_tweets.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/bpe_train.h"

#ifndef TLM_SOURCE_DIR
#define TLM_SOURCE_DIR "."
#endif
#ifndef TLM_SHARED_DIR
#define TLM_SHARED_DIR "../shared"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using tlm::bench::now_s;
const auto& quote = tlm::bench::shell_quote;

constexpr double kMB = 1048576.0;
constexpr double kTrainGoal = 3.0, kEncodeGoal = 1.5, kScalingGoal = 0.75;
constexpr size_t kHfVocab = 30000;

struct Row {
  std::string corpus, task, impl, vocab;
  int threads = 1;
  double mb = 0, seconds = 0, rss_mb = 0;
  double mb_s() const { return seconds > 0 ? mb / seconds : 0; }
};

void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.starts_with("VmHWM:")) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return 0;
}

// Runs a Node script from tests/node; returns the JSON its last stdout line holds (null if none).
json node(const std::string& repo, const std::string& env, const std::string& script,
          const std::vector<std::string>& args) {
  std::string cmd = env + " node " + quote(repo + "/tests/node/" + script);
  for (const std::string& a : args) cmd.append(" ").append(quote(a));
  std::string out;
  int rc = tlm::bench::run_capture(cmd, &out);
  if (rc == -1) throw tlm::UserError(script, "cannot start node");
  if (rc != 0) throw tlm::user_error(script, "failed (status %d): %s", rc, out.c_str());
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  size_t nl = out.rfind('\n');
  return out.empty() ? json() : json::parse(nl == std::string::npos ? out : out.substr(nl + 1));
}

std::vector<std::string> tweeteval_files(const std::string& shared) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(shared + "/data/tweeteval"))
    if (e.path().filename() == "train_text.txt" || e.path().filename() == "val_text.txt")
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw tlm::UserError(shared + "/data/tweeteval", "no train_text.txt or val_text.txt");
  return files;
}

// The TweetEval train + val text as one file (HF's trainer and tiktoken read files).
std::string tweeteval_text(const std::string& shared, const std::string& dir) {
  std::string all;
  for (const std::string& f : tweeteval_files(shared)) all += tlm::read_file(f);
  std::string path = dir + "/tweeteval-train-val.txt";
  tlm::atomic_write_file(path, all);
  return path;
}

// Synthetic tweets, prepared, one text per line, cut to `mb` MB at a line end (see the top).
std::string synthetic_text(const std::string& dir, uint64_t json_mb, uint64_t mb) {
  std::string path = dir + tlm::strprintf("/synthetic-text-%s-handles-%llumb-json%llumb.txt",
                                          tlm::bench::kGeneratorVersion,
                                          (unsigned long long)mb, (unsigned long long)json_mb);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && st.st_size > 0) return path;
  tlm::bench::GeneratedFile in = tlm::bench::ensure_synthetic_file(dir, json_mb);
  std::string tmp = tlm::bench::make_temp_dir(dir, "tweetlm-bench-tok-");
  std::string text;
  try {
    tlm::PrepareOptions opt;
    opt.inputs = {in.path};
    opt.outdir = tmp + "/prepared";
    opt.normalize.mentions = false;  // see the top: the generator's word lists alone are too few
    opt.normalize.links = false;
    tlm::prepare(opt);
    const uint64_t limit = mb << 20;
    for (const char* split : {"train.jsonl", "val.jsonl", "test.jsonl"}) {
      std::ifstream f(opt.outdir + "/" + split);
      for (std::string line; text.size() < limit && std::getline(f, line);) {
        std::string t = json::parse(line).at("text").get<std::string>();
        if (text.size() + t.size() + 1 > limit) break;
        text.append(t).push_back('\n');
      }
    }
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  fs::remove_all(tmp);
  if (text.size() < (mb << 20) * 9 / 10)
    std::printf("note: %s gives only %.1f MB of text; raise --json-mb for %llu MB\n", in.path.c_str(),
                double(text.size()) / kMB, (unsigned long long)mb);
  tlm::atomic_write_file(path, text);
  return path;
}

std::vector<std::string> read_lines(const std::string& path, double& mb) {
  std::vector<std::string> lines;
  std::ifstream f(path, std::ios::binary);
  uint64_t bytes = 0;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) {
      bytes += line.size();
      lines.push_back(std::move(line));
    }
  mb = double(bytes) / kMB;
  return lines;
}

Row train_ours(const std::string& corpus, const std::string& file, size_t vocab, const std::string& save_to) {
  tlm::set_num_threads(0);
  tlm::BpeTrainOptions opt;
  opt.vocab_size = vocab;
  reset_peak_rss();
  double t0 = now_s();
  tlm::Tokenizer t = tlm::train_bpe(std::vector<std::string>{file}, opt);
  Row r{corpus, "train", "tweetlm", std::to_string(t.vocab_size()), tlm::num_threads(),
        double(fs::file_size(file)) / kMB, now_s() - t0, peak_rss_mb()};
  t.save(save_to);
  return r;
}

Row train_hf(const std::string& repo, const std::string& corpus, const std::string& file, const std::string& out) {
  json j = node(repo, "", "hf_train.js", {out, std::to_string(kHfVocab + 1), file});
  return Row{corpus, "train", "HF tokenizers", std::to_string(kHfVocab), tlm::hardware_threads(),
             double(fs::file_size(file)) / kMB, j.at("train_seconds").get<double>(),
             j.at("max_rss_kb").get<double>() / 1024.0};
}

Row encode_ours(const std::string& corpus, const std::string& tokenizer, const std::string& vocab,
                const std::vector<std::string>& lines, double mb, int threads) {
  tlm::Tokenizer t = tlm::Tokenizer::load(tokenizer);  // a fresh piece cache
  tlm::set_num_threads(threads);
  reset_peak_rss();
  double t0 = now_s();
  auto ids = t.encode_batch(lines);
  double s = now_s() - t0;
  return Row{corpus, "encode", "tweetlm", vocab, threads, mb, s, peak_rss_mb()};
}

Row encode_peer(const std::string& repo, const std::string& corpus, const char* impl, const std::string& vocab,
                int threads, const std::string& script, const std::string& spec, const std::string& file) {
  std::string env = std::string(impl) == "HF tokenizers" ? "RAYON_NUM_THREADS=" + std::to_string(threads) : "";
  json j = node(repo, env, script, {"--bench", spec, file});
  return Row{corpus, "encode", impl, vocab, threads, j.at("bytes").get<double>() / kMB,
             j.at("seconds").get<double>(), j.at("max_rss_kb").get<double>() / 1024.0};
}

void print_row(const Row& r) {
  std::printf("| %s | %s | %s | %s | %d | %.1f | %.2f | %.2f | %.0f |\n", r.corpus.c_str(), r.task.c_str(),
              r.impl.c_str(), r.vocab.c_str(), r.threads, r.mb, r.seconds, r.mb_s(), r.rss_mb);
  std::fflush(stdout);
}

const Row* find(const std::vector<Row>& rows, const std::string& corpus, const std::string& task,
                const std::string& impl, const std::string& vocab, int threads) {
  for (const Row& r : rows)
    if (r.corpus == corpus && r.task == task && r.impl == impl && r.vocab == vocab &&
        (threads < 0 || r.threads == threads))
      return &r;
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tokenizer training and encoding against HF tokenizers and tiktoken "
               "(see the top of bench_tokenizer.cpp)"};
  std::string dir = "/tmp/tweetlm-bench", json_path = "bench_tokenizer.json";
  std::string repo = TLM_SOURCE_DIR, shared = TLM_SHARED_DIR;
  uint64_t synthetic_mb = 100, json_mb = 1024;
  std::vector<size_t> vocabs = {8192, 30000, 32000};
  bool quick = false, no_peers = false;
  app.add_option("--dir", dir, "Directory for generated inputs (reused between runs)")->capture_default_str();
  app.add_option("--synthetic-mb", synthetic_mb, "Synthetic corpus size in MB")->capture_default_str();
  app.add_option("--json-mb", json_mb, "Synthetic API JSON generated for it, in MB")->capture_default_str();
  app.add_option("--json", json_path, "Where to write the results as JSON")->capture_default_str();
  app.add_option("--vocab", vocabs, "Our vocabulary sizes")->delimiter(',')->capture_default_str();
  app.add_option("--repo", repo, "Source tree (for tests/node)")->capture_default_str();
  app.add_option("--shared", shared, "Shared data directory (for data/tweeteval)")->capture_default_str();
  app.add_flag("--quick", quick, "16 MB synthetic corpus (from 128 MB of JSON)");
  app.add_flag("--no-peers", no_peers, "Skip HF tokenizers and tiktoken");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    synthetic_mb = 16;
    json_mb = 128;
  }
  try {
    tlm::make_dirs(dir);
    int cores = tlm::hardware_threads();
    std::string peers_note;
    if (!no_peers && !fs::exists(repo + "/tools/node/node_modules/@anush008/tokenizers"))
      peers_note = repo + "/tools/node/node_modules has no @anush008/tokenizers: run scripts/setup.sh";
    if (!no_peers && peers_note.empty() && std::system("node --version > /dev/null 2>&1") != 0)
      peers_note = "node does not run: run scripts/setup.sh";
    if (!peers_note.empty()) std::printf("peers skipped: %s\n", peers_note.c_str());
    bool peers = !no_peers && peers_note.empty();
    std::printf("bench_tokenizer: %d cores\n", cores);

    std::vector<std::pair<std::string, std::string>> corpora = {
        {"tweeteval", tweeteval_text(shared, dir)},
        {tlm::strprintf("synthetic-%llumb", (unsigned long long)synthetic_mb),
         synthetic_text(dir, json_mb, synthetic_mb)}};
    std::string work = tlm::bench::make_temp_dir(dir, "tweetlm-bench-tok-");
    std::string gpt2 = work + "/gpt2.json";
    if (peers) node(repo, "", "gpt2_tokenizer_json.js", {gpt2});

    std::vector<Row> rows;
    std::printf("\n| corpus | task | impl | vocab | threads | MB | seconds | MB/s | peak RSS MB |\n");
    std::printf("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    auto add = [&](Row r) {
      print_row(r);
      rows.push_back(std::move(r));
    };
    try {
      for (const auto& [name, file] : corpora) {
        std::string ours_json;
        for (size_t v : vocabs) {
          ours_json = work + tlm::strprintf("/ours-%s-%zu.json", name.c_str(), v);
          add(train_ours(name, file, v, ours_json));
        }
        if (peers) add(train_hf(repo, name, file, work + "/hf-" + name + ".json"));
        double mb = 0;
        std::vector<std::string> lines = read_lines(file, mb);
        std::vector<int> thread_counts = {1};
        if (cores > 1) thread_counts.push_back(cores);
        if (peers) {
          for (int th : thread_counts) add(encode_ours(name, gpt2, "gpt2", lines, mb, th));
          for (int th : thread_counts)
            add(encode_peer(repo, name, "HF tokenizers", "gpt2", th, "hf_encode.js", gpt2, file));
          add(encode_peer(repo, name, "tiktoken", "gpt2", 1, "tiktoken_encode.js", "gpt2", file));
        }
        if (!vocabs.empty()) {
          std::string ours_vocab = "ours-" + std::to_string(vocabs.back());
          for (int th : thread_counts) add(encode_ours(name, ours_json, ours_vocab, lines, mb, th));
        }
      }
    } catch (...) {
      fs::remove_all(work);
      throw;
    }
    fs::remove_all(work);

    // Goals.
    json goals = json::array();
    auto goal = [&](const std::string& what, double measured, double target, bool have) {
      if (!have) {
        std::printf("goal: %s -> n/a\n", what.c_str());
        return;
      }
      bool pass = measured >= target;
      std::printf("goal: %s: %.2f (need >= %.2f) -> %s\n", what.c_str(), measured, target, pass ? "PASS" : "FAIL");
      goals.push_back({{"goal", what}, {"measured", measured}, {"target", target}, {"pass", pass}});
    };
    std::printf("\n");
    for (const auto& [name, file] : corpora) {
      const Row* ours = find(rows, name, "train", "tweetlm", std::to_string(kHfVocab), -1);
      const Row* hf = find(rows, name, "train", "HF tokenizers", std::to_string(kHfVocab), -1);
      goal(name + ": training speed-up over HF tokenizers at vocab 30000", ours && hf ? hf->seconds / ours->seconds : 0,
           kTrainGoal, ours && hf);
      const Row* one = find(rows, name, "encode", "tweetlm", "gpt2", 1);
      const Row* tt = find(rows, name, "encode", "tiktoken", "gpt2", 1);
      goal(name + ": 1-thread encoding MB/s over tiktoken (GPT-2 vocab)", one && tt ? one->mb_s() / tt->mb_s() : 0,
           kEncodeGoal, one && tt);
      // Scaling on GPT-2's vocabulary, or on ours when the peers (and so GPT-2's file) are missing.
      std::string vocab = peers || vocabs.empty() ? "gpt2" : "ours-" + std::to_string(vocabs.back());
      const Row* one_s = find(rows, name, "encode", "tweetlm", vocab, 1);
      const Row* all = find(rows, name, "encode", "tweetlm", vocab, cores);
      goal(name + tlm::strprintf(": encoding scaling efficiency on %d threads (speed-up / threads)", cores),
           one_s && all ? all->mb_s() / one_s->mb_s() / cores : 0, kScalingGoal, one_s && all && cores > 1);
    }

    json j = {{"benchmark", "tokenizer"}, {"mb_bytes", 1048576},
              {"machine", {{"cores", cores}, {"compiler", __VERSION__}}},
              {"corpora", json::object()}, {"rows", json::array()}, {"goals", goals}};
    for (const auto& [name, file] : corpora) j["corpora"][name] = {{"path", file}, {"bytes", fs::file_size(file)}};
    for (const Row& r : rows)
      j["rows"].push_back({{"corpus", r.corpus}, {"task", r.task}, {"impl", r.impl}, {"vocab", r.vocab},
                           {"threads", r.threads}, {"mb", r.mb}, {"seconds", r.seconds}, {"mb_s", r.mb_s()},
                           {"peak_rss_mb", r.rss_mb}});
    if (!peers_note.empty()) j["peers_skipped"] = peers_note;
    tlm::atomic_write_file(json_path, j.dump(2) + "\n");
    std::printf("results: %s\n", json_path.c_str());
    return 0;
  } catch (const tlm::UserError& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 1;
  }
}
