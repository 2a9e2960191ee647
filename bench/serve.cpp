// bench_serve: `tweetlm serve` throughput and latency, and batch-1 generation speed against
// llama.cpp (node-llama-cpp) and PyTorch eager, on the config-B model of issue 7 (V 8192, T 256,
// d 512, 8 layers, 8 heads, F 1376: 33M parameters; random weights, a BPE tokenizer of 8192
// tokens trained on the TweetEval text) in one run on the same machine and threads.
//
//  a) server: `tweetlm -t THREADS serve --parallel 32`, then 1, 8 and 32 concurrent streaming
//     clients (C++ threads with httplib::Client, SSE parsed) each sending completions of a fixed
//     prompt length (random token ids), "ignore_eos": true, temperature 0, max_tokens fixed.
//     Aggregate generated tokens/s (usage.completion_tokens over the phase's wall time) and
//     p50/p99 time to first token (request sent -> first SSE chunk with text).
//  b) batch 1: prefill a 128-token prompt, then greedy-decode N tokens, timed separately.
//     Ours through the library (InferenceSession, what the server's engine runs) and through
//     the server's 1-stream phase (decode rate after the first token, HTTP and SSE included);
//     llama.cpp on the GGUF files `tweetlm export` writes (f32 and f16; bench/peer_llama_cpp.js,
//     UV_THREADPOOL_SIZE=1); PyTorch eager fp32 (bench/peer_decode.py, same shapes).
// Goals (issue 7): 32 streams >= 4x the aggregate tokens/s of 1 stream; batch-1 decode >= 1.2x
// llama.cpp at the same weight type (f32); prefill >= 2x llama.cpp (f32).
//
// Decode at batch 1 is memory-bound (every weight is read once per token), so each side keeps
// the best of --repeat runs: load from others on a shared machine only slows a run down.
//
// Each server phase also runs --repeat rounds and keeps the fastest (a round with errors wins, so
// errors are never hidden).
//
//   bench_serve [--quick] [--threads N] [--repeat N] [--phases server,batch1] [--no-peer] [--json FILE] [--keep]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <filesystem>
#include <httplib.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_model.h"
#include "bench_util.h"
#include "core/file.h"
#include "core/rng.h"
#include "core/threads.h"
#include "store/export_gguf.h"
#include "store/model_loader.h"
#include "infer/session.h"
#include "model/params.h"
#include "store/params_io.h"
#include "tokenizer/bpe_train.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tlm::bench::BenchModel;
using tlm::bench::now_s;
using tlm::bench::shell_quote;

// B = 1: generation at batch 1 (the field is the training batch elsewhere).
const BenchModel kConfigB = {"B", 8192, 256, 512, 8, 8, 1376, 1};
const BenchModel kQuick = {"quick", 1024, 128, 64, 2, 2, 172, 1};

struct Options {
  bool quick = false, no_peer = false, keep = false;
  int threads = 2, repeat = 3, parallel = 32;
  int prompt = 32, max_tokens = 128;    // server phase, per request
  int prefill = 128, decode = 120;      // batch-1 phase
  bool server = true, batch1 = true;   // --phases
  std::string streams = "1,8,32", json_path = "bench_serve.json", tweetlm = TLM_BINARY;
  std::string shared = TLM_SHARED_DIR, repo = TLM_SOURCE_DIR, python = "/usr/bin/python3", node = "node";
};

void progress(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void progress(const char* fmt, ...) {
  static const double t0 = now_s();
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "[bench_serve %6.1fs] ", now_s() - t0);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

// ---- the model: a BPE tokenizer of exactly V tokens and random weights, as a model directory

std::vector<std::string> tweeteval_texts(const std::string& shared, bool quick) {
  std::vector<std::string> files;
  const fs::path root = fs::path(shared) / "data" / "tweeteval";
  if (!fs::is_directory(root)) throw tlm::UserError(root.string(), "the TweetEval text is missing (--shared DIR)");
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == "train_text.txt") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw tlm::UserError(root.string(), "no train_text.txt under it");
  if (quick) files.resize(1);
  return files;
}

void write_model(const std::string& dir, const BenchModel& bm, const tlm::Tokenizer& tok) {
  tlm::ModelConfig c = tlm::bench::model_config(bm);
  tlm::ParamLayout layout(c);
  std::vector<float> p(layout.total());
  tlm::init_params(c, layout, p.data(), 1234);
  tlm::make_dirs(dir);
  tlm::save_params(dir + "/model.safetensors", layout, p.data());
  tlm::atomic_write_file(dir + "/config.json", c.to_hf_json().dump(2));
  tok.save(dir + "/tokenizer.json");
}

// Random ordinary token ids (past the special and byte tokens, so every one is a real piece).
std::vector<int32_t> random_prompt(tlm::Rng& rng, int n, int V) {
  const int lo = std::min(300, V / 2);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = lo + int32_t(rng.below(uint32_t(V - lo)));
  return ids;
}

// ---- the server process

class Server {
 public:
  Server(const Options& o, const std::string& model, const std::string& log_dir)
      : out_(log_dir + "/serve.out"), err_(log_dir + "/serve.err") {
    std::vector<std::string> argv = {o.tweetlm, "-q", "-t", std::to_string(o.threads), "serve", "-m", model,
                                     "--port", "0", "--parallel", std::to_string(o.parallel)};
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fo = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int fe = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fo, 1), ::dup2(fe, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    for (const double deadline = now_s() + 60; now_s() < deadline;) {
      const std::string out = tlm::path_exists(out_) ? tlm::read_file(out_) : "";
      const size_t at = out.find("listening on http://"), eol = out.find('\n', at);
      if (at != std::string::npos && eol != std::string::npos) {
        port_ = std::atoi(out.c_str() + out.rfind(':', eol) + 1);
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw tlm::UserError(o.tweetlm, "tweetlm serve did not start: " + log());
  }
  ~Server() { stop(); }
  int port() const { return port_; }
  std::string log() const { return tlm::path_exists(err_) ? tlm::read_file(err_) : ""; }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// ---- streaming clients

struct StreamResult {
  bool ok = false;
  double ttft_s = 0, total_s = 0;
  int tokens = 0;  // usage.completion_tokens
  std::string error;
};

// One streaming completion: SSE events are split on blank lines; the first chunk with text
// marks the first token, the usage chunk gives the token count, [DONE] ends it.
StreamResult stream_completion(int port, const std::vector<int32_t>& prompt, int max_tokens) {
  StreamResult r;
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(300, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = json{{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}, {"ignore_eos", true},
                  {"stream", true}, {"stream_options", {{"include_usage", true}}}}
                 .dump();
  std::string buf;
  bool done = false;
  const double t0 = now_s();
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buf.append(data, n);
    for (size_t end; (end = buf.find("\n\n")) != std::string::npos; buf.erase(0, end + 2)) {
      const std::string ev = buf.substr(0, end);
      if (!ev.starts_with("data: ")) continue;  // ": keep-alive" comments
      if (ev == "data: [DONE]") {
        done = true;
        continue;
      }
      const json j = json::parse(ev.substr(6), nullptr, false);
      if (j.is_discarded()) {
        r.error = "bad SSE chunk: " + ev;
        return false;
      }
      if (j.contains("usage") && j["usage"].is_object()) r.tokens = j["usage"].value("completion_tokens", 0);
      if (r.ttft_s == 0 && j.contains("choices") && !j["choices"].empty() &&
          !j["choices"][0].value("text", std::string()).empty())
        r.ttft_s = now_s() - t0;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool sent = cli.send(req, res, err);
  r.total_s = now_s() - t0;
  if (!sent) r.error = r.error.empty() ? "request failed: " + httplib::to_string(err) : r.error;
  else if (res.status != 200) r.error = tlm::strprintf("HTTP %d", res.status);
  else if (!done || r.ttft_s == 0 || r.tokens != max_tokens)
    r.error = tlm::strprintf("incomplete stream: done %d, %d of %d tokens", int(done), r.tokens, max_tokens);
  r.ok = r.error.empty();
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t k = size_t(std::ceil(p * double(v.size())));
  return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
}

struct StreamsRow {
  int streams = 0, requests = 0, errors = 0;
  long tokens = 0;
  double wall_s = 0, tokens_per_s = 0, ttft_p50 = 0, ttft_p99 = 0;
  double decode_tps = 0;  // per stream after the first token: tokens - 1 over (total - ttft), mean
  std::string first_error;
};

// `streams` clients at once, each sending `per_client` requests one after the other.
StreamsRow run_streams(int port, int streams, int per_client, int prompt_len, int max_tokens, int V, uint64_t seed) {
  StreamsRow row;
  row.streams = streams, row.requests = streams * per_client;
  std::vector<StreamResult> results(size_t(row.requests));
  std::vector<std::vector<int32_t>> prompts;
  tlm::Rng rng(seed);
  for (int i = 0; i < row.requests; i++) prompts.push_back(random_prompt(rng, prompt_len, V));
  std::atomic<int> finished{0};
  const double t0 = now_s();
  std::vector<std::thread> threads;
  for (int c = 0; c < streams; c++)
    threads.emplace_back([&, c] {
      for (int k = 0; k < per_client; k++) {
        const size_t i = size_t(c) * per_client + k;
        results[i] = stream_completion(port, prompts[i], max_tokens);
        finished++;
      }
    });
  // Progress every few seconds while the clients run.
  for (double next = t0 + 5; finished.load() < row.requests; std::this_thread::sleep_for(std::chrono::milliseconds(20)))
    if (now_s() >= next) {
      progress("  %d streams: %d/%d requests done", streams, finished.load(), row.requests);
      next += 5;
    }
  for (std::thread& t : threads) t.join();
  row.wall_s = now_s() - t0;
  std::vector<double> ttft;
  double decode_sum = 0;
  for (const StreamResult& r : results) {
    if (!r.ok) {
      if (row.errors++ == 0) row.first_error = r.error;
      continue;
    }
    row.tokens += r.tokens;
    ttft.push_back(r.ttft_s);
    decode_sum += (r.tokens - 1) / std::max(1e-9, r.total_s - r.ttft_s);
  }
  row.tokens_per_s = double(row.tokens) / row.wall_s;
  row.ttft_p50 = percentile(ttft, 0.50), row.ttft_p99 = percentile(ttft, 0.99);
  row.decode_tps = ttft.empty() ? 0 : decode_sum / double(ttft.size());
  return row;
}

// ---- batch 1 through the library

struct Batch1 {
  double prefill_tps = 0, decode_tps = 0;
};

Batch1 run_ours_batch1(const tlm::Llama& model, const std::vector<int32_t>& prompt, int decode, int repeat) {
  tlm::InferenceSession sess(model, 1, 0, int(prompt.size()));
  const int V = model.config().vocab_size;
  Batch1 best;
  for (int r = 0; r <= repeat; r++) {  // run 0 warms up
    sess.reset(0);
    const double t0 = now_s();
    tlm::SeqInput in{0, prompt.data(), int(prompt.size())};
    sess.forward({&in, 1});
    const double t1 = now_s();
    int32_t tok = prompt.back();
    const double t2 = now_s();
    for (int i = 0; i < decode; i++) {
      tlm::SeqInput one{0, &tok, 1};
      const float* logits = sess.forward({&one, 1});
      tok = int32_t(std::max_element(logits, logits + V) - logits);
    }
    const double t3 = now_s();
    if (r == 0) continue;
    best.prefill_tps = std::max(best.prefill_tps, double(prompt.size()) / (t1 - t0));
    best.decode_tps = std::max(best.decode_tps, decode / (t3 - t2));
  }
  return best;
}

// ---- peers: the last JSON line of their output, or {"error": ...}

json last_json(int rc, const std::string& out) {
  const size_t brace = out.rfind('{');
  json j = brace == std::string::npos ? json() : json::parse(out.substr(brace), nullptr, false);
  if (rc != 0 || j.is_discarded() || !j.is_object()) return json{{"error", "peer failed: " + out}};
  return j;
}

json run_llama_cpp(const Options& o, const std::string& gguf, const std::string& prompt_file) {
  const std::string cmd = tlm::strprintf("UV_THREADPOOL_SIZE=1 %s %s %s %s %d %d %d 2>&1", o.node.c_str(),
                                         shell_quote(o.repo + "/bench/peer_llama_cpp.js").c_str(),
                                         shell_quote(gguf).c_str(), shell_quote(prompt_file).c_str(), o.decode,
                                         o.threads, o.repeat);
  std::string out;
  const int rc = tlm::bench::run_capture(cmd, &out);
  return last_json(rc, out);
}

json run_torch(const Options& o, const BenchModel& bm, const std::string& prompt_file, const std::string& dtype) {
  std::string out;
  const std::string cmd = tlm::strprintf(
      "%s %s --V %d --T %d --C %d --L %d --H %d --F %d --prompt-file %s --decode %d --threads %d --dtype %s "
      "--repeat %d 2>&1",
      o.python.c_str(), shell_quote(o.repo + "/bench/peer_decode.py").c_str(), bm.V, bm.T, bm.C, bm.L, bm.H, bm.F,
      shell_quote(prompt_file).c_str(), o.decode, o.threads, dtype.c_str(), o.repeat);
  const int rc = tlm::bench::run_capture(cmd, &out);
  return last_json(rc, out);
}

// The 1-minute load average: benchmarks on a shared machine say how busy it was.
double load_average() {
  double l = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

double num(const json& j, const char* key) { return j.is_object() && j.contains(key) ? j[key].get<double>() : 0; }

std::string ratio(double a, double b) { return a > 0 && b > 0 ? tlm::strprintf("%.2fx", a / b) : "-"; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_serve: tweetlm serve throughput and TTFT; batch-1 decode and prefill vs llama.cpp and PyTorch"};
  Options o;
  app.add_flag("--quick", o.quick, "Smoke run: a tiny model and short generations (seconds)");
  app.add_option("--threads", o.threads, "Threads for every engine (server, library, llama.cpp, PyTorch)")
      ->capture_default_str();
  app.add_option("--repeat", o.repeat, "Runs per engine (batch 1) and rounds per server phase, best kept")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--parallel", o.parallel, "Server slots (tweetlm serve --parallel)")->capture_default_str();
  app.add_option("--streams", o.streams, "Concurrent streaming clients per phase, comma-separated")->capture_default_str();
  app.add_option("--prompt", o.prompt, "Server phase: prompt tokens per request")->capture_default_str();
  app.add_option("--max-tokens", o.max_tokens, "Server phase: generated tokens per request")->capture_default_str();
  app.add_option("--prefill", o.prefill, "Batch-1 phase: prompt tokens")->capture_default_str();
  app.add_option("--decode", o.decode, "Batch-1 phase: decoded tokens")->capture_default_str();
  app.add_flag("--no-peer", o.no_peer, "Only run ours");
  std::string phases = "server,batch1";
  app.add_option("--phases", phases, "What to run: server, batch1 or both (comma-separated)")->capture_default_str();
  app.add_option("--tweetlm", o.tweetlm, "The tweetlm binary")->capture_default_str();
  app.add_option("--shared", o.shared, "Directory holding data/tweeteval (tokenizer training text)")->capture_default_str();
  app.add_option("--repo", o.repo, "Repository root (bench/peer_*.js|py, tools/node)")->capture_default_str();
  app.add_option("--json", o.json_path, "Write the results here")->capture_default_str();
  app.add_flag("--keep", o.keep, "Keep the scratch directory (model, GGUF files, server log)");
  CLI11_PARSE(app, argc, argv);
  o.server = phases.find("server") != std::string::npos, o.batch1 = phases.find("batch1") != std::string::npos;
  if (o.quick) o.max_tokens = 16, o.prefill = 32, o.decode = 32, o.repeat = 1;
  const BenchModel bm = o.quick ? kQuick : kConfigB;
  std::vector<int> streams;
  {
    std::stringstream ss(o.streams);
    for (std::string s; std::getline(ss, s, ',');) streams.push_back(std::max(1, std::atoi(s.c_str())));
  }
  if (o.prefill + o.decode + 1 > bm.T) {
    std::fprintf(stderr, "bench_serve: --prefill + --decode must stay within the context (%d)\n", bm.T);
    return 2;
  }

  try {
    const double load_start = load_average();
    tlm::set_num_threads(o.threads);
    const std::string dir = tlm::bench::make_temp_dir("/tmp", "bench_serve_");
    const std::string model_dir = dir + "/model";
    // 1. Model: tokenizer of exactly V tokens, random weights, GGUF exports.
    progress("training a %d-token BPE tokenizer on the TweetEval text", bm.V);
    tlm::BpeTrainOptions bo;
    bo.vocab_size = size_t(bm.V);
    tlm::Tokenizer tok = tlm::train_bpe(tweeteval_texts(o.shared, o.quick), bo);
    if (tok.vocab_size() != size_t(bm.V))
      throw tlm::UserError("tokenizer", tlm::strprintf("training gave %zu tokens, not %d", tok.vocab_size(), bm.V));
    write_model(model_dir, bm, tok);
    tlm::LoadedModel lm = tlm::load_model(model_dir);
    const tlm::ModelConfig& cfg = lm.model->config();
    const std::string gguf_f32 = dir + "/model-f32.gguf", gguf_f16 = dir + "/model-f16.gguf";
    if (!o.no_peer && o.batch1) {
      progress("exporting GGUF f32 and f16");
      tlm::GgufExportOptions eo;
      tlm::export_gguf(*lm.model, lm.tokenizer, gguf_f32, eo);
      eo.type = tlm::GgmlType::f16;
      tlm::export_gguf(*lm.model, lm.tokenizer, gguf_f16, eo);
    }
    tlm::Rng rng(42);
    const std::vector<int32_t> prompt = random_prompt(rng, o.prefill, bm.V);
    const std::string prompt_file = dir + "/prompt.json";
    tlm::atomic_write_file(prompt_file, json(prompt).dump());

    // 2. Server phases.
    std::vector<StreamsRow> rows;
    if (o.server) {
      progress("starting %s -t %d serve --parallel %d", o.tweetlm.c_str(), o.threads, o.parallel);
      Server server(o, model_dir, dir);
      stream_completion(server.port(), random_prompt(rng, o.prompt, bm.V), 4);  // warm-up
      for (int s : streams) {
        // At least 8 requests per phase (TTFT percentiles) and 2 rounds when streams are many.
        const int per_client = o.quick ? 1 : std::max(2, (8 + s - 1) / s);
        // Like batch 1, the best of --repeat rounds (by tokens/s): one busy moment on a shared
        // machine collapses a round (OpenMP threads wait for a descheduled sibling).
        StreamsRow best;
        for (int rep = 0; rep < o.repeat; rep++) {
          progress("server: %d concurrent streams x %d requests, prompt %d, max_tokens %d (round %d of %d)", s,
                   per_client, o.prompt, o.max_tokens, rep + 1, o.repeat);
          StreamsRow r = run_streams(server.port(), s, per_client, o.prompt, o.max_tokens, bm.V, 100 + s);
          progress("  %.0f tokens/s, TTFT p50 %.0f ms p99 %.0f ms, %d errors%s", r.tokens_per_s, 1e3 * r.ttft_p50,
                   1e3 * r.ttft_p99, r.errors, r.errors ? (": " + r.first_error).c_str() : "");
          if (rep == 0 || r.errors > best.errors || (r.errors == best.errors && r.tokens_per_s > best.tokens_per_s))
            best = r;
        }
        rows.push_back(best);
      }
      server.stop();
    }

    // 3. Batch 1.
    if (o.batch1) progress("batch 1, ours (library): prefill %d, decode %d, best of %d", o.prefill, o.decode, o.repeat);
    const Batch1 ours = o.batch1 ? run_ours_batch1(*lm.model, prompt, o.decode, o.repeat) : Batch1{};
    json llama_f32, llama_f16, torch_fp32;
    if (!o.no_peer && o.batch1) {
      progress("batch 1, llama.cpp f32 (node-llama-cpp)");
      llama_f32 = run_llama_cpp(o, gguf_f32, prompt_file);
      progress("batch 1, llama.cpp f16 (node-llama-cpp)");
      llama_f16 = run_llama_cpp(o, gguf_f16, prompt_file);
      progress("batch 1, PyTorch eager fp32");
      torch_fp32 = run_torch(o, bm, prompt_file, "fp32");
    }

    // 4. Table, goals, JSON.
    const StreamsRow* one = nullptr;
    const StreamsRow* most = nullptr;
    for (const StreamsRow& r : rows) {
      if (r.streams == 1) one = &r;
      if (!most || r.streams > most->streams) most = &r;
    }
    std::printf("\nbench_serve: CPU %s, %d threads; model %s: V %d, T %d, d %d, %d layers, %d heads, F %d "
                "(%.1fM parameters, f32)\n",
                tlm::bench::cpu_model().c_str(), o.threads, bm.name.c_str(), bm.V, bm.T, bm.C, bm.L, bm.H, bm.F,
                double(cfg.num_params()) / 1e6);
    std::printf("load average %.2f at the start, %.2f at the end\n", load_start, load_average());
    std::printf("server: --parallel %d, prompt %d tokens, max_tokens %d, ignore_eos, temperature 0; batch 1: prefill "
                "%d tokens, decode %d tokens, best of %d\n\n",
                o.parallel, o.prompt, o.max_tokens, o.prefill, o.decode, o.repeat);
    std::printf("| measurement | engine | tokens/s | TTFT p50 ms | TTFT p99 ms | vs reference |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
    for (const StreamsRow& r : rows)
      std::printf("| server, %d stream%s (%d requests%s) | tweetlm serve | %.0f | %.0f | %.0f | %s vs 1 stream |\n",
                  r.streams, r.streams == 1 ? "" : "s", r.requests,
                  r.errors ? tlm::strprintf(", %d errors", r.errors).c_str() : "", r.tokens_per_s, 1e3 * r.ttft_p50,
                  1e3 * r.ttft_p99, one ? ratio(r.tokens_per_s, one->tokens_per_s).c_str() : "-");
    const double l32d = num(llama_f32, "decode_tokens_per_s"), l32p = num(llama_f32, "prefill_tokens_per_s");
    auto b1 = [&](const char* what, const char* engine, double tps, double ref) {
      std::printf("| %s | %s | %.0f | | | %s vs llama.cpp f32 |\n", what, engine, tps, ratio(tps, ref).c_str());
    };
    if (o.batch1) {
      b1("decode, batch 1", "tweetlm (InferenceSession)", ours.decode_tps, l32d);
      if (one) b1("decode, batch 1", "tweetlm serve, 1 stream (after TTFT)", one->decode_tps, l32d);
      if (!o.no_peer) {
        b1("decode, batch 1", "llama.cpp f32 (node-llama-cpp)", l32d, l32d);
        b1("decode, batch 1", "llama.cpp f16 (node-llama-cpp)", num(llama_f16, "decode_tokens_per_s"), l32d);
        b1("decode, batch 1", "PyTorch eager fp32", num(torch_fp32, "decode_tokens_per_s"), l32d);
      }
      b1("prefill, batch 1", "tweetlm (InferenceSession)", ours.prefill_tps, l32p);
      if (!o.no_peer) {
        b1("prefill, batch 1", "llama.cpp f32 (node-llama-cpp)", l32p, l32p);
        b1("prefill, batch 1", "llama.cpp f16 (node-llama-cpp)", num(llama_f16, "prefill_tokens_per_s"), l32p);
        b1("prefill, batch 1", "PyTorch eager fp32", num(torch_fp32, "prefill_tokens_per_s"), l32p);
      }
    }
    for (const auto& [name, j] : {std::pair<const char*, const json&>{"llama.cpp f32", llama_f32},
                                  {"llama.cpp f16", llama_f16}, {"PyTorch", torch_fp32}})
      if (j.is_object() && j.contains("error")) std::printf("\n%s: %s\n", name, j["error"].get<std::string>().c_str());

    json goals = json::array();
    auto goal = [&](const char* name, double value, double target) {
      const bool measured = value > 0;
      const char* verdict = !measured ? "not measured" : value >= target ? "met" : "NOT met";
      std::printf("goal: %-46s %6.2fx (>= %.1fx): %s\n", name, value, target, verdict);
      goals.push_back({{"goal", name}, {"ratio", value}, {"target", target}, {"met", measured && value >= target}});
    };
    std::printf("\n");
    if (one && most && most != one)
      goal(tlm::strprintf("%d streams vs 1 stream, aggregate tokens/s", most->streams).c_str(),
           most->tokens_per_s / one->tokens_per_s, 4.0);
    if (o.batch1) {
      goal("batch-1 decode vs llama.cpp f32", l32d > 0 ? ours.decode_tps / l32d : 0, 1.2);
      goal("prefill vs llama.cpp f32", l32p > 0 ? ours.prefill_tps / l32p : 0, 2.0);
    }

    json jrows = json::array();
    for (const StreamsRow& r : rows)
      jrows.push_back({{"streams", r.streams}, {"requests", r.requests}, {"errors", r.errors},
                       {"completion_tokens", r.tokens}, {"wall_s", r.wall_s}, {"tokens_per_s", r.tokens_per_s},
                       {"ttft_p50_ms", 1e3 * r.ttft_p50}, {"ttft_p99_ms", 1e3 * r.ttft_p99},
                       {"decode_tokens_per_s_per_stream", r.decode_tps}, {"first_error", r.first_error}});
    json out = {{"benchmark", "serve"},
                {"cpu", tlm::bench::cpu_model()},
                {"threads", o.threads},
                {"load_average", {load_start, load_average()}},
                {"model", {{"name", bm.name}, {"V", bm.V}, {"T", bm.T}, {"C", bm.C}, {"L", bm.L}, {"H", bm.H},
                           {"F", bm.F}, {"params", cfg.num_params()}}},
                {"server", {{"parallel", o.parallel}, {"prompt_tokens", o.prompt}, {"max_tokens", o.max_tokens},
                            {"streams", jrows}}},
                {"batch1", {{"prefill_tokens", o.prefill}, {"decode_tokens", o.decode}, {"repeat", o.repeat},
                            {"tweetlm", {{"prefill_tokens_per_s", ours.prefill_tps},
                                         {"decode_tokens_per_s", ours.decode_tps}}},
                            {"tweetlm_serve_1_stream_decode_tokens_per_s", one ? one->decode_tps : 0},
                            {"llama_cpp_f32", llama_f32}, {"llama_cpp_f16", llama_f16},
                            {"pytorch_fp32", torch_fp32}}},
                {"goals", goals}};
    tlm::atomic_write_file(o.json_path, out.dump(2) + "\n");
    std::printf("\nwrote %s\n", o.json_path.c_str());
    if (o.keep) std::printf("kept %s\n", dir.c_str());
    else fs::remove_all(dir);
    for (const StreamsRow& r : rows)
      if (r.errors) return 1;
    return 0;
  } catch (const tlm::UserError& e) {
    std::fprintf(stderr, "bench_serve: %s\n", e.what());
    return 2;
  }
}
