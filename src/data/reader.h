// Reading tweets from any supported input into batches of RawTweet, in source order.
//
// Each format reader pulls blocks of complete records (source.h), parses them (JSON lines in
// parallel, one contiguous range of lines per thread so order is kept), and hands each batch to
// a sink. Malformed records are returned beside the tweets with their line, so the caller
// decides whether to skip them or stop (--strict).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "data/tweet.h"

namespace tlm {

struct ReadError {
  uint64_t line = 0;  // 1-based source line; 0 when `what` names a record number instead
  std::string what;
};

struct RecordBatch {
  std::vector<RawTweet> tweets;
  std::vector<ReadError> errors;
  uint64_t consumed = 0;  // bytes of the file consumed so far (compressed bytes for .gz/.zst)
  uint64_t bytes = 0;     // decompressed bytes in this batch
  void append(RecordBatch&& other);
};

using BatchSink = std::function<void(RecordBatch&)>;

struct ReadOptions {
  Format format = Format::automatic;
  std::string text_column = "text";
};

// Detects the container format from the first (decompressed) bytes of a file. Throws
// UserError naming `path` for binary data.
Format detect_format(std::string_view head, const std::string& path, const std::string& text_column);

// The first up-to-64 KiB of a file, decompressed.
std::string read_head(const std::string& path, size_t n = 64 << 10);

// One input after expansion: a Twitter archive directory stays one input; any other
// directory becomes its regular files (sorted; symlinks and binary files skipped).
struct InputFile {
  std::string path;
  Format format = Format::automatic;
  uint64_t size = 0;  // bytes on disk (for progress)
};
std::vector<InputFile> expand_inputs(const std::vector<std::string>& inputs, const ReadOptions& opt);

// Reads one input (after expansion) and calls `sink` once per batch.
void read_input(const InputFile& input, const ReadOptions& opt, const BatchSink& sink);

// The format readers (one per file, dispatched by read_input).
void read_json(const std::string& path, const BatchSink& sink);
void read_archive(const std::string& path, const BatchSink& sink);
void read_csv(const std::string& path, const std::string& text_column, const BatchSink& sink);
void read_text_lines(const std::string& path, const BatchSink& sink);
void read_fortune(const std::string& path, const BatchSink& sink);

// The files of an unpacked Twitter archive that hold tweets (data/tweets.js, data/tweets-part1.js,
// or the older tweet.js names), or empty when `dir` is not an archive.
std::vector<std::string> archive_tweet_files(const std::string& dir);

// The loop every streaming reader shares: blocks of complete records from `path` (cut by
// `boundary`, BOM stripped from the first), each parsed by `parse(block, first_line, batch)`
// where first_line is the 1-based line the block starts at, then handed to `sink`.
using BlockParser = std::function<void(std::string_view block, uint64_t first_line, RecordBatch& batch)>;
void for_each_block(const std::string& path, size_t (*boundary)(std::string_view), const BlockParser& parse,
                    const BatchSink& sink);

// Record boundaries used by the block reader, exposed for tests.
size_t csv_boundary(std::string_view buf);
size_t fortune_boundary(std::string_view buf);

// The non-blank lines of a block (views without their '\n') and their 1-based line numbers,
// counting from `first_line`: what JSON-lines readers parse, in parallel, afterwards.
void split_nonblank_lines(std::string_view block, uint64_t first_line, std::vector<std::string_view>& lines,
                          std::vector<uint64_t>& numbers);

// Strips a UTF-8 byte order mark.
std::string_view strip_bom(std::string_view s);

}  // namespace tlm
