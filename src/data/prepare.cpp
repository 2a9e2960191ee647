// The prepare pipeline (see prepare.h).
#include "data/prepare.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/threads.h"
#include "core/text.h"
#include "core/utf8.h"
#include "data/tweet_time.h"

namespace tlm {
namespace {

enum class Drop : uint8_t { none, retweet, lang, date, undated, empty, too_short };

// What the parallel stage computes for one tweet.
struct Prepared {
  std::string text;
  std::string lang;  // lowercased, UTF-8 repaired (source metadata too); empty when unknown
  Drop drop = Drop::none;
  bool repaired = false;
  size_t chars = 0;
  uint64_t hash = 0;
  uint64_t bands[8] = {};
};

// The directories make_dirs(path) is about to create, removed again (if still empty) unless
// keep() is called: a failed prepare leaves the file system as it found it.
class CreatedDirs {
 public:
  explicit CreatedDirs(const std::string& path) {
    std::error_code ec;
    for (auto p = std::filesystem::path(path).lexically_normal(); !p.empty() && !std::filesystem::exists(p, ec);
         p = p.parent_path()) {
      made_.push_back(p);
      if (p == p.parent_path()) break;
    }
  }
  ~CreatedDirs() {
    std::error_code ec;
    for (const auto& p : made_) std::filesystem::remove(p, ec);  // deepest first; only empty ones go
  }
  CreatedDirs(const CreatedDirs&) = delete;
  CreatedDirs& operator=(const CreatedDirs&) = delete;
  void keep() { made_.clear(); }

 private:
  std::vector<std::filesystem::path> made_;
};

class Pipeline {
 public:
  Pipeline(const PrepareOptions& opt, PrepareReport& rep) : opt_(opt), rep_(rep) {
    for (const auto& l : opt.langs) langs_.push_back(ascii_lower(l));
    if (opt.near_dup > 0) {
      rep_.near_dup_params = MinHashParams::for_threshold(opt.near_dup);
      near_ = std::make_unique<NearDupIndex>(rep_.near_dup_params);
    }
    rep_.length_hist.assign(PrepareReport::kLengthBuckets, 0);
    make_dirs(opt.outdir);
    for (int s = 0; s < 3; ++s) {
      std::string path = (std::filesystem::path(opt.outdir) / (std::string(split_name(Split(s))) + ".jsonl")).string();
      files_[s] = std::make_unique<AtomicFile>(path);
      rep_.outputs.push_back(path);
    }
  }

  void consume(const std::string& path, PrepareReport::FileInfo& info, RecordBatch& batch) {
    for (const ReadError& e : batch.errors) {
      std::string where = e.line ? path + ":" + std::to_string(e.line) : path;
      if (opt_.strict)
        throw UserError(e.line ? where : path, e.what + " (malformed record; drop --strict to skip such records)");
      if (rep_.malformed_examples.size() < opt_.max_examples) {
        rep_.malformed_examples.push_back(where + ": " + e.what);
        log_warn("%s: %s (skipped)", where.c_str(), e.what.c_str());
      }
    }
    rep_.malformed += batch.errors.size();
    info.malformed += batch.errors.size();
    info.tweets += batch.tweets.size();
    rep_.records += batch.tweets.size() + batch.errors.size();
    rep_.bytes_in += batch.bytes;
    info.bytes += batch.bytes;
    prepare_parallel(batch.tweets);
    for (size_t i = 0; i < batch.tweets.size(); ++i) keep_or_drop(batch.tweets[i], prepared_[i]);
  }

  void finish() {
    for (int s = 0; s < 3; ++s) {
      flush(s);
      files_[s]->commit();
    }
    rep_.dedup_memory_bytes = exact_.memory_bytes() + (near_ ? near_->memory_bytes() : 0);
  }

 private:
  Drop early_drop(const RawTweet& t, const std::string& lang) const {
    if (!opt_.keep_retweets && (t.retweet || is_retweet_text(t.text))) return Drop::retweet;
    if (!langs_.empty() && !lang.empty() && std::find(langs_.begin(), langs_.end(), lang) == langs_.end())
      return Drop::lang;
    if (opt_.since || opt_.until) {
      const std::optional<int64_t> at = parse_tweet_time(t.created_at);
      if (!at) return Drop::undated;
      if ((opt_.since && *at < *opt_.since) || (opt_.until && *at > *opt_.until)) return Drop::date;
    }
    return Drop::none;
  }

  // Filters, normalization and hashing: independent per tweet, so each thread takes one
  // contiguous range.
  void prepare_parallel(const std::vector<RawTweet>& tweets) {
    size_t n = tweets.size();
    if (prepared_.size() < n) prepared_.resize(n);
    int nt = n >= 256 ? num_threads() : 1;
#pragma omp parallel num_threads(nt)
    {
      std::string scratch;
      int tid = omp_get_thread_num();
      size_t lo = n * tid / nt, hi = n * (tid + 1) / nt;
      for (size_t i = lo; i < hi; ++i) {
        Prepared& p = prepared_[i];
        p.lang.clear();
        if (!tweets[i].lang.empty()) utf8_repair(ascii_lower(tweets[i].lang), p.lang);
        p.drop = early_drop(tweets[i], p.lang);
        p.text.clear();
        if (p.drop != Drop::none) continue;
        p.repaired = normalize_tweet(tweets[i].text, opt_.normalize, p.text, scratch).repaired_utf8;
        p.chars = utf8_length(p.text);
        if (p.chars == 0) p.drop = Drop::empty;
        else if (p.chars < opt_.min_chars) p.drop = Drop::too_short;
        if (p.drop != Drop::none) continue;
        p.hash = hash64(p.text);
        if (near_) minhash_band_keys(p.text, near_->params(), p.bands);
      }
    }
  }

  void keep_or_drop(const RawTweet& t, const Prepared& p) {
    rep_.read_by_format[t.format]++;
    switch (p.drop) {
      case Drop::retweet: rep_.retweets++; return;
      case Drop::lang: rep_.wrong_lang++; return;
      case Drop::date: rep_.out_of_range++; return;
      case Drop::undated: rep_.undated++; return;
      case Drop::empty: rep_.empty++; return;
      case Drop::too_short: rep_.too_short++; return;
      case Drop::none: break;
    }
    if (!exact_.insert(p.hash)) {
      rep_.duplicates++;
      return;
    }
    if (near_ && near_->check_and_insert(p.bands)) {
      rep_.near_duplicates++;
      return;
    }
    rep_.kept++;
    rep_.repaired_utf8 += p.repaired;
    int s = static_cast<int>(assign_split(t.id.empty() ? std::string_view(p.text) : std::string_view(t.id), opt_.split));
    rep_.split_counts[s]++;
    // Repaired in the parallel stage: report.json (an nlohmann dump) needs valid UTF-8.
    static const std::string kUnknown = "unknown";
    rep_.languages[p.lang.empty() ? kUnknown : p.lang]++;
    rep_.length_hist[std::min<size_t>(p.chars / PrepareReport::kLengthBucket, PrepareReport::kLengthBuckets - 1)]++;
    write_line(s, t, p);
  }

  // {"id":..., "text":..., "lang":..., "created_at":...}: fields the source lacks are left out.
  void write_line(int s, const RawTweet& t, const Prepared& p) {
    std::string& out = buffers_[s];
    size_t before = out.size();
    bool first = true;
    auto field = [&](const char* key, std::string_view v, bool repair) {
      if (v.empty()) return;
      out += first ? "{\"" : ",\"";
      first = false;
      out += key;
      out += "\":";
      if (!repair) return append_json_string(out, v);
      field_.clear();
      utf8_repair(v, field_);  // metadata comes from the source too: never pass bad bytes on
      append_json_string(out, field_);
    };
    field("id", t.id, true);
    field("text", p.text, false);
    field("lang", p.lang, false);
    field("created_at", t.created_at, true);
    out += "}\n";
    rep_.bytes_out += out.size() - before;
    if (out.size() >= (1u << 20)) flush(s);
  }

  void flush(int s) {
    files_[s]->write(buffers_[s]);
    buffers_[s].clear();
  }

  const PrepareOptions& opt_;
  PrepareReport& rep_;
  std::vector<std::string> langs_;
  std::vector<Prepared> prepared_;
  HashSet64 exact_{1 << 20};
  std::unique_ptr<NearDupIndex> near_;
  std::unique_ptr<AtomicFile> files_[3];
  std::string buffers_[3], field_;
};

}  // namespace

PrepareReport prepare(const PrepareOptions& opt) {
  if (opt.inputs.empty()) throw UserError("--input", "no input given");
  if (opt.outdir.empty()) throw UserError("--output", "no output directory given");
  if (opt.near_dup < 0 || opt.near_dup >= 1)
    throw user_error("--near-dup", "%g is not a Jaccard threshold in (0, 1)", opt.near_dup);
  auto start = std::chrono::steady_clock::now();
  PrepareReport rep;
  rep.threads = num_threads();
  std::vector<InputFile> inputs = expand_inputs(opt.inputs, opt.read);
  uint64_t total = 0;
  for (const auto& in : inputs) total += in.size;
  // A failed run (--strict, no tweets kept, a read error) leaves no folder it made behind.
  CreatedDirs created(opt.outdir);
  Pipeline pipeline(opt, rep);
  Progress progress("prepare", static_cast<double>(total), ProgressUnit::bytes);
  uint64_t done_before = 0;
  for (const auto& in : inputs) {
    PrepareReport::FileInfo info;
    info.path = in.path;
    info.format = format_name(in.format);
    read_input(in, opt.read, [&](RecordBatch& batch) {
      pipeline.consume(in.path, info, batch);
      progress.update(static_cast<double>(done_before + batch.consumed),
                      format_quantity(static_cast<double>(rep.kept), ProgressUnit::count) + " tweets kept");
    });
    done_before += in.size;
    rep.files.push_back(std::move(info));
  }
  if (rep.kept == 0) {
    std::string why = strprintf("no tweets kept (%llu records read", (unsigned long long)rep.records);
    const std::pair<const char*, uint64_t> drops[] = {
        {"malformed", rep.malformed}, {"retweets", rep.retweets},     {"other languages", rep.wrong_lang},
        {"outside --since/--until", rep.out_of_range}, {"undated", rep.undated},
        {"empty", rep.empty},         {"too short", rep.too_short},   {"duplicates", rep.duplicates},
        {"near-duplicates", rep.near_duplicates}};
    for (const auto& [name, n] : drops)
      if (n) why += strprintf(", %llu %s", (unsigned long long)n, name);
    why += "); nothing was written";
    throw UserError(opt.inputs.size() == 1 ? opt.inputs[0] : std::string("--input"), why);
  }
  pipeline.finish();
  created.keep();
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.update(static_cast<double>(total));
  progress.finish(format_quantity(static_cast<double>(rep.kept), ProgressUnit::count) + " tweets kept");
  atomic_write_file((std::filesystem::path(opt.outdir) / "report.json").string(), rep.to_json().dump(2) + "\n");
  return rep;
}

}  // namespace tlm
