// bench_prepare: throughput of `tweetlm prepare` (parse, filter, normalize, de-duplicate, split,
// write) on synthetic Twitter API v2 JSON lines, against a plain-Python peer doing the same
// ingestion + normalization. Goal: >= 100 MB/s per core.
//
// Usage:
//   bench_prepare [--size-mb N] [--dir DIR] [--peer-mb N] [--json FILE] [--repeat N] [--quick]
//                 [--no-peer] [--peer-script FILE]
//
//   --size-mb N   synthetic input size (default 1024); generated once into DIR and reused while
//                 its name (generator version, seed, size) and size match
//   --dir DIR     where inputs live (default /tmp/tweetlm-bench)
//   --peer-mb N   the peer reads the first N MB of the input, cut at a line end (default 128);
//                 tweetlm is also run on that slice so kept counts can be compared
//   --json FILE   machine-readable results (default bench_prepare.json in the current directory)
//   --repeat N    runs per configuration, the fastest is reported (default 1)
//   --quick       64 MB input, 16 MB peer slice: a smoke test that takes seconds
//   --no-peer     skip the Python peer (and the slice)
//   --peer-script the peer to run (default: peer_prepare.py next to this file)
//
// Rows: tweetlm on the whole input with 1 thread and with all cores, tweetlm on the peer's
// slice with 1 thread, the peer on the slice. The goal line judges the 1-thread row.
//
// MB means 2^20 bytes everywhere. tweetlm runs in-process with 1 thread and with every core
// (tlm::set_num_threads); the wall time covers all of prepare(), output files included. The
// input is read once before timing so every run sees a warm page cache, and outputs go to a
// temporary directory under /dev/shm when it exists, so the disk does not time a CPU benchmark.
// The peer is bench/peer_prepare.py under /usr/bin/python3, timed as a whole process.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "core/threads.h"
#include "data/prepare.h"
#include "bench_util.h"
#include "synthetic_tweets.h"

#ifndef TLM_BENCH_SOURCE_DIR
#define TLM_BENCH_SOURCE_DIR "bench"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using tlm::bench::cpu_model;
using tlm::bench::now_s;
using tlm::bench::shell_quote;

constexpr double kMB = 1048576.0;
constexpr double kGoalMBsPerCore = 100.0;

struct Row {
  std::string impl, input;
  int threads = 1;
  double mb = 0, seconds = 0;
  json counts;  // kept, duplicates, retweets, ... as the implementation reports them
  double mb_s() const { return seconds > 0 ? mb / seconds : 0; }
  double mb_s_per_core() const { return mb_s() / threads; }
};

// Reads the whole file; returns MB/s. The first call warms the page cache for the timed runs,
// a second one measures reading from the cache: the upper bound for any reader.
double read_whole_file(const std::string& path) {
  double t0 = now_s();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw tlm::user_error(path, "cannot open");
  std::vector<char> buf(8 << 20);
  uint64_t total = 0;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), f)) total += n;
  std::fclose(f);
  double s = now_s() - t0;
  return s > 0 ? double(total) / kMB / s : 0;
}

Row run_tweetlm(const std::string& input, int threads, const std::string& outdir, int repeat) {
  Row row;
  row.impl = "tweetlm";
  row.input = input;
  row.threads = threads;
  tlm::set_num_threads(threads);
  for (int k = 0; k < repeat; ++k) {
    tlm::PrepareOptions opt;
    opt.inputs = {input};
    opt.outdir = outdir + "/run";
    double t0 = now_s();
    tlm::PrepareReport rep = tlm::prepare(opt);
    double s = now_s() - t0;
    fs::remove_all(opt.outdir);
    if (k == 0 || s < row.seconds) row.seconds = s;
    row.mb = double(rep.bytes_in) / kMB;
    row.counts = {{"records", rep.records},     {"malformed", rep.malformed}, {"retweets", rep.retweets},
                  {"too_short", rep.too_short + rep.empty}, {"duplicates", rep.duplicates},
                  {"kept", rep.kept},           {"bytes_out", rep.bytes_out}};
  }
  return row;
}

// Runs the Python peer on `input`; returns false (with a reason) when it cannot run.
bool run_peer(const std::string& script, const std::string& input, const std::string& outdir, int repeat, Row& row,
              std::string& why) {
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0) return why = "/usr/bin/python3 not found", false;
  if (!tlm::path_exists(script)) return why = script + " not found", false;
  row.impl = "python peer";
  row.input = input;
  row.threads = 1;
  std::string out = outdir + "/peer.jsonl";
  std::string cmd = std::string(python) + " " + shell_quote(script) + " " + shell_quote(input) + " " + shell_quote(out);
  for (int k = 0; k < repeat; ++k) {
    double t0 = now_s();
    std::string text;
    int rc = tlm::bench::run_capture(cmd, &text);
    if (rc == -1) return why = "cannot start " + cmd, false;
    double s = now_s() - t0;
    fs::remove(out);
    if (rc != 0) return why = "peer failed (exit status " + std::to_string(rc) + ")", false;
    json r = json::parse(text, nullptr, false);
    if (r.is_discarded()) return why = "peer printed no JSON: " + text, false;
    if (k == 0 || s < row.seconds) row.seconds = s;
    row.mb = r.value("bytes", 0.0) / kMB;
    r.erase("bytes");
    r.erase("seconds");
    row.counts = r;
  }
  return true;
}

void print_table(const std::vector<Row>& rows) {
  std::printf("\n| impl | threads | MB | seconds | MB/s | MB/s per core |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const Row& r : rows)
    std::printf("| %s | %d | %.0f | %.2f | %.1f | %.1f |\n", r.impl.c_str(), r.threads, r.mb, r.seconds, r.mb_s(),
                r.mb_s_per_core());
}

json row_json(const Row& r) {
  return {{"impl", r.impl},   {"input", r.input},   {"threads", r.threads},
          {"mb", r.mb},       {"seconds", r.seconds}, {"mb_s", r.mb_s()},
          {"mb_s_per_core", r.mb_s_per_core()}, {"counts", r.counts}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark of tweetlm prepare against a plain-Python peer (see the top of bench_prepare.cpp)"};
  uint64_t size_mb = 1024, peer_mb = 128;
  std::string dir = "/tmp/tweetlm-bench", json_path = "bench_prepare.json";
  std::string peer_script = std::string(TLM_BENCH_SOURCE_DIR) + "/peer_prepare.py";
  int repeat = 1;
  bool quick = false, no_peer = false;
  app.add_option("--size-mb", size_mb, "Synthetic input size in MB (2^20 bytes)")->capture_default_str();
  app.add_option("--dir", dir, "Directory for the synthetic input (reused between runs)")->capture_default_str();
  app.add_option("--peer-mb", peer_mb, "MB of the input the Python peer reads")->capture_default_str();
  app.add_option("--json", json_path, "Where to write the results as JSON")->capture_default_str();
  app.add_option("--repeat", repeat, "Runs per configuration; the fastest counts")->capture_default_str()->check(
      CLI::PositiveNumber);
  app.add_option("--peer-script", peer_script, "The Python peer")->capture_default_str();
  app.add_flag("--quick", quick, "64 MB input, 16 MB peer slice (smoke test)");
  app.add_flag("--no-peer", no_peer, "Skip the Python peer");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    size_mb = 64;
    peer_mb = 16;
  }
  try {
    if (size_mb == 0) throw tlm::UserError("--size-mb", "must be at least 1");
    peer_mb = std::min(peer_mb, size_mb);
    int cores = tlm::hardware_threads();
    std::string cpu = cpu_model();
    std::printf("bench_prepare: %d cores, %s\n", cores, cpu.c_str());
    std::fflush(stdout);

    tlm::bench::GeneratedFile in = tlm::bench::ensure_synthetic_file(dir, size_mb);
    if (in.reused) std::printf("input: %s (reused)\n", in.path.c_str());
    else std::printf("input: %s (generated: %llu tweets in %.1f s)\n", in.path.c_str(),
                     (unsigned long long)in.tweets, in.seconds);
    std::fflush(stdout);  // before prepare's progress lines on stderr
    read_whole_file(in.path);
    double read_mb_s = read_whole_file(in.path);
    std::string slice = in.path.substr(0, in.path.size() - 6) + tlm::strprintf(".first%llumb.jsonl",
                                                                               (unsigned long long)peer_mb);
    if (!no_peer) {
      tlm::bench::ensure_slice(in.path, slice, peer_mb);
      read_whole_file(slice);
    }

    std::string outdir = tlm::bench::make_temp_dir(dir, "tweetlm-bench-out-");
    std::vector<Row> rows;
    std::string peer_note;
    try {
      rows.push_back(run_tweetlm(in.path, 1, outdir, repeat));
      if (cores > 1) rows.push_back(run_tweetlm(in.path, cores, outdir, repeat));
      if (!no_peer) {
        Row same = run_tweetlm(slice, 1, outdir, repeat);
        same.impl = "tweetlm (peer slice)";
        rows.push_back(same);
        Row peer;
        if (run_peer(peer_script, slice, outdir, repeat, peer, peer_note)) rows.push_back(peer);
        else std::printf("peer skipped: %s\n", peer_note.c_str());
      }
    } catch (...) {
      fs::remove_all(outdir);
      throw;
    }
    fs::remove_all(outdir);

    print_table(rows);
    const Row& one = rows[0];
    bool pass = one.mb_s_per_core() >= kGoalMBsPerCore;
    std::printf("\npage-cache read of the input: %.0f MB/s (an upper bound for any reader)\n", read_mb_s);
    std::printf("goal: >= %.0f MB/s per core for ingestion + normalization: tweetlm %.1f MB/s on 1 core -> %s\n",
                kGoalMBsPerCore, one.mb_s_per_core(), pass ? "PASS" : "FAIL");
    json peer_cmp;
    if (rows.size() >= 2 && rows.back().impl == "python peer") {
      const Row& ours = rows[rows.size() - 2];
      const Row& peer = rows.back();
      double speedup = peer.mb_s() > 0 ? ours.mb_s() / peer.mb_s() : 0;
      std::printf("on the same %.0f MB, 1 core each: tweetlm %.1fx the peer's MB/s; kept tweets: tweetlm %s, peer %s\n",
                  peer.mb, speedup, ours.counts["kept"].dump().c_str(), peer.counts["kept"].dump().c_str());
      peer_cmp = {{"speedup_1_core", speedup}, {"kept_tweetlm", ours.counts["kept"]}, {"kept_peer", peer.counts["kept"]}};
    }

    json j = {
        {"benchmark", "prepare"},
        {"mb_bytes", 1048576},
        {"machine", {{"cores", cores}, {"cpu_model", cpu}, {"compiler", __VERSION__}}},
        {"input", {{"path", in.path}, {"bytes", in.bytes}, {"generator", tlm::bench::kGeneratorVersion},
                   {"reused", in.reused}, {"peer_slice", no_peer ? "" : slice}}},
        {"repeat", repeat},
        {"page_cache_read_mb_s", read_mb_s},
        {"runs", json::array()},
        {"goal", {{"mb_s_per_core", kGoalMBsPerCore}, {"measured_1_thread", one.mb_s_per_core()}, {"pass", pass}}},
    };
    for (const Row& r : rows) j["runs"].push_back(row_json(r));
    if (!peer_cmp.is_null()) j["peer_comparison"] = peer_cmp;
    if (!peer_note.empty()) j["peer_skipped"] = peer_note;
    tlm::atomic_write_file(json_path, j.dump(2) + "\n");
    std::printf("results: %s\n", json_path.c_str());
    return 0;
  } catch (const tlm::UserError& e) {
    std::fprintf(stderr, "bench_prepare: error: %s\n", e.what());
    return 2;
  }
}
