// Prepared corpus -> token shards (see tokenize_corpus.h).
//
// Per split: a block reader hands out ~8 MiB of whole lines; the lines are cut into chunks of
// kChunkLines, and threads take chunks dynamically (tweet lengths vary, so equal static ranges
// would leave threads idle). Each chunk parses its lines with a per-thread corpus line parser
// (data/corpus.h), in place (the block reader leaves the padding simdjson needs), and encodes
// the texts into its own token buffer. The writer then takes the chunks in index order, so the output does not
// depend on which thread did what.
#include "tokenizer/tokenize_corpus.h"

#include <omp.h>

#include <exception>
#include <filesystem>
#include <span>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/progress.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "data/reader.h"
#include "data/source.h"

namespace tlm {
namespace {

constexpr const char* kSplitNames[] = {"train", "val", "test"};
constexpr size_t kChunkLines = 256;

// One chunk's output: the tokens of its documents back to back (each ending with eos) and
// where each document ends.
struct Chunk {
  std::vector<uint32_t> ids;
  std::vector<size_t> ends;
  std::exception_ptr error;
};

// The "text" of one prepared line (the block reader leaves simdjson's padding after it), or
// throws UserError naming path:line.
std::string_view line_text(CorpusLineParser& parser, std::string_view line, const std::string& path,
                           uint64_t lineno) {
  std::string error;
  const std::string_view text = parser.text(line, error, /*padded=*/true);
  if (!error.empty()) throw user_error(strprintf("%s:%llu", path.c_str(), static_cast<unsigned long long>(lineno)), "%s", error.c_str());
  return text;
}

struct SplitRun {
  const Tokenizer& tok;
  uint32_t eos;
  Progress& progress;
  uint64_t bytes_before;  // input bytes of earlier splits (progress is over all splits)
  uint64_t tokens_before;
};

void tokenize_split(const std::string& path, ShardWriter& writer, SplitRun& run, TokenizeSplitReport& rep) {
  BlockReader reader(open_stream(path), path, line_boundary);
  std::string_view block;
  std::vector<std::string_view> lines;
  std::vector<uint64_t> numbers;
  std::vector<Chunk> chunks;
  bool first = true;
  while (reader.next(block)) {
    if (first) block = strip_bom(block);
    first = false;
    rep.bytes_in += block.size();
    split_nonblank_lines(block, reader.lines_before() + 1, lines, numbers);
    size_t nchunks = (lines.size() + kChunkLines - 1) / kChunkLines;
    if (chunks.size() < nchunks) chunks.resize(nchunks);
    int nt = static_cast<int>(std::min<size_t>(static_cast<size_t>(num_threads()), std::max<size_t>(nchunks, 1)));
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t c = 0; c < nchunks; ++c) {
      static thread_local CorpusLineParser parser;
      Chunk& ch = chunks[c];
      ch.ids.clear();
      ch.ends.clear();
      ch.error = nullptr;
      // Exceptions must not cross the OpenMP region; the first one (in input order) is
      // rethrown below.
      try {
        size_t hi = std::min(lines.size(), (c + 1) * kChunkLines);
        for (size_t i = c * kChunkLines; i < hi; ++i) {
          // Ordinary: "<|endoftext|>" typed in a tweet must not become a separator.
          run.tok.encode_ordinary(line_text(parser, lines[i], path, numbers[i]), ch.ids);
          ch.ids.push_back(run.eos);
          ch.ends.push_back(ch.ids.size());
        }
      } catch (...) {
        ch.error = std::current_exception();
      }
    }
    for (size_t c = 0; c < nchunks; ++c) {
      const Chunk& ch = chunks[c];
      if (ch.error) std::rethrow_exception(ch.error);
      std::span<const uint32_t> all(ch.ids);
      size_t begin = 0;
      for (size_t end : ch.ends) {
        writer.add_document(all.subspan(begin, end - begin));
        begin = end;
      }
    }
    double elapsed = run.progress.elapsed_s();
    double tokens = static_cast<double>(run.tokens_before + writer.tokens());
    run.progress.update(static_cast<double>(run.bytes_before + reader.consumed()),
                        rep.name + "  " + format_quantity(elapsed > 0 ? tokens / elapsed : 0, ProgressUnit::count) +
                            " tok/s");
  }
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace

uint64_t tokenizer_fingerprint(const Tokenizer& tok) {
  Hasher h;
  auto u64 = [&](uint64_t v) { h.update(&v, sizeof v); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    h.update(s);
  };
  h.update("tweetlm tokenizer fingerprint v1");
  u64(tok.vocab_size());
  for (uint32_t id = 0; id < tok.vocab_size(); ++id) str(tok.token_bytes(id));
  u64(tok.merges().size());
  for (auto [l, r] : tok.merges()) u64((uint64_t(l) << 32) | r);
  u64(tok.added_tokens().size());
  for (const AddedToken& a : tok.added_tokens()) {
    u64((uint64_t(a.id) << 1) | (a.special ? 1 : 0));
    str(a.content);
  }
  return h.digest();
}

TokenizeReport tokenize_corpus(const std::string& prepared_dir, const Tokenizer& tok, const std::string& out_dir,
                               const TokenizeOptions& options) {
  if (!path_exists(prepared_dir)) throw user_error(prepared_dir, "no such directory");
  if (!is_directory(prepared_dir))
    throw user_error(prepared_dir, "not a directory (expected the output directory of 'tweetlm prepare')");
  TokenizeReport rep;
  rep.out_dir = out_dir;
  rep.shard_tokens = options.shard_tokens;
  rep.threads = num_threads();
  uint64_t total_bytes = 0;
  for (const char* name : kSplitNames) {
    TokenizeSplitReport s;
    s.name = name;
    std::string path = path_join(prepared_dir, s.name + ".jsonl");
    s.present = path_exists(path);
    if (s.present) total_bytes += file_size_or_zero(path);
    rep.splits.push_back(std::move(s));
  }
  bool any = false;
  for (const auto& s : rep.splits) any = any || s.present;
  if (!any)
    throw user_error(prepared_dir, "no train.jsonl, val.jsonl or test.jsonl (expected the output of 'tweetlm prepare')");
  if (options.shard_tokens == 0) throw user_error("--shard-tokens", "must be at least 1");

  const std::string tok_name = options.tokenizer_path.empty() ? std::string("tokenizer") : options.tokenizer_path;
  if (tok.eos_id() < 0)
    throw user_error(tok_name, "has no <|endoftext|> token, which tweetlm needs to separate tweets in the shards");
  rep.vocab_size = tok.vocab_size();
  rep.eos_id = static_cast<uint32_t>(tok.eos_id());
  rep.token_width = token_width_for_vocab(rep.vocab_size);
  rep.vocab_hash = hex64(tokenizer_fingerprint(tok));
  if (!options.tokenizer_path.empty()) {
    rep.tokenizer_path = options.tokenizer_path;
    MappedFile f(options.tokenizer_path);
    rep.tokenizer_file_hash = hex64(hash64(f.data(), f.size()));
  }

  make_dirs(out_dir);
  // Until the new meta.json is written, the directory is not a consistent set.
  const std::string meta_path = path_join(out_dir, "meta.json");
  std::error_code ec;
  std::filesystem::remove(meta_path, ec);
  if (ec) throw user_error(meta_path, "cannot remove: %s", ec.message().c_str());

  Progress progress("tokenize", static_cast<double>(total_bytes), ProgressUnit::bytes);
  SplitRun run{tok, rep.eos_id, progress, 0, 0};
  for (auto& s : rep.splits) {
    if (!s.present) {
      remove_stale_shards(out_dir, s.name, 0);  // an earlier run's shards of a split we no longer have
      continue;
    }
    double t0 = progress.elapsed_s();
    std::string path = path_join(prepared_dir, s.name + ".jsonl");
    ShardWriter writer(out_dir, s.name, rep.vocab_size, options.shard_tokens);
    tokenize_split(path, writer, run, s);
    s.shards = writer.finish();
    s.documents = writer.documents();
    s.tokens = writer.tokens();
    s.seconds = progress.elapsed_s() - t0;
    run.bytes_before += file_size_or_zero(path);
    run.tokens_before += s.tokens;
  }
  uint64_t tokens = run.tokens_before;
  rep.seconds = progress.elapsed_s();
  progress.finish(format_quantity(static_cast<double>(tokens), ProgressUnit::count) + " tokens");
  atomic_write_file(meta_path, rep.to_json().dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
  return rep;
}

nlohmann::ordered_json TokenizeReport::to_json() const {
  using json = nlohmann::ordered_json;
  json j;
  j["format"] = "tweetlm token shards";
  j["shard_version"] = kShardVersion;
  json t = {{"vocab_size", vocab_size}, {"eos_id", eos_id}, {"vocab_xxh3", vocab_hash}};
  if (!tokenizer_path.empty()) {
    t["path"] = tokenizer_path;
    t["file_xxh3"] = tokenizer_file_hash;
  }
  j["tokenizer"] = t;
  j["token_width"] = token_width;
  j["shard_tokens"] = shard_tokens;
  json by_split = json::object();
  for (const auto& s : splits) {
    if (!s.present) continue;
    json shards = json::array();
    for (const auto& f : s.shards)
      shards.push_back({{"file", std::filesystem::path(f.path).filename().string()},
                        {"tokens", f.tokens},
                        {"documents", f.documents}});
    by_split[s.name] = {{"documents", s.documents}, {"tokens", s.tokens}, {"bytes_in", s.bytes_in},
                      {"seconds", s.seconds},     {"shards", shards}};
  }
  j["splits"] = by_split;
  j["threads"] = threads;
  j["seconds"] = seconds;
  return j;
}

std::string TokenizeReport::summary() const {
  std::string s = strprintf("shards in %s: vocab %llu, uint%u tokens, <|endoftext|> = %u, %d threads, %.1fs\n",
                            out_dir.c_str(), static_cast<unsigned long long>(vocab_size), token_width * 8, eos_id,
                            threads, seconds);
  s += strprintf("%-6s %12s %14s %9s %7s %10s %9s\n", "split", "tweets", "tokens", "tok/tweet", "shards", "input",
                 "MB/s");
  uint64_t docs = 0, toks = 0, bytes = 0;
  size_t files = 0;
  auto row = [&](const std::string& name, uint64_t d, uint64_t t, size_t n, uint64_t b, double secs) {
    s += strprintf("%-6s %12llu %14llu %9.1f %7zu %10s %9.1f\n", name.c_str(), static_cast<unsigned long long>(d),
                   static_cast<unsigned long long>(t), d ? double(t) / double(d) : 0.0, n,
                   format_quantity(double(b), ProgressUnit::bytes).c_str(), secs > 0 ? double(b) / 1e6 / secs : 0.0);
  };
  for (const auto& sp : splits) {
    if (!sp.present) {
      s += strprintf("%-6s %12s\n", sp.name.c_str(), "(no file)");
      continue;
    }
    row(sp.name, sp.documents, sp.tokens, sp.shards.size(), sp.bytes_in, sp.seconds);
    docs += sp.documents;
    toks += sp.tokens;
    bytes += sp.bytes_in;
    files += sp.shards.size();
  }
  row("total", docs, toks, files, bytes, seconds);
  return s;
}

}  // namespace tlm
