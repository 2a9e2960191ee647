// `tweetlm tokenizer train | encode | decode`: options and output of the byte-level BPE
// tokenizer (src/tokenizer). encode/decode stream lines (one input line -> one output line)
// in chunks, so they work on files of any size and on pipes.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/output_path.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/bpe_train.h"

namespace tlm::cli {
namespace {

// Reads `path` ("-" or empty = stdin) line by line in chunks of up to `chunk` lines.
class LineSource {
 public:
  explicit LineSource(const std::string& path) : name_(path.empty() || path == "-" ? "<stdin>" : path) {
    file_ = (path.empty() || path == "-") ? stdin : std::fopen(path.c_str(), "rb");
    if (!file_) throw user_error(path, "cannot open: %s", std::strerror(errno));
  }
  ~LineSource() {
    if (file_ && file_ != stdin) std::fclose(file_);
  }
  bool next_chunk(std::vector<std::string>& lines, size_t chunk = 1 << 14) {
    lines.clear();
    char* buf = nullptr;
    size_t cap = 0;
    ssize_t n;
    while (lines.size() < chunk && (n = ::getline(&buf, &cap, file_)) >= 0) {
      std::string_view l(buf, static_cast<size_t>(n));
      if (!l.empty() && l.back() == '\n') l.remove_suffix(1);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      lines.emplace_back(l);
    }
    std::free(buf);
    return !lines.empty();
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::FILE* file_ = nullptr;
};

Runner add_train(CLI::App& parent) {
  auto* cmd = parent.add_subcommand("train", "Train a byte-level BPE tokenizer on a prepared corpus");
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto opt = std::make_shared<BpeTrainOptions>();
  auto specials = std::make_shared<std::vector<std::string>>();
  cmd->add_option("-i,--input", *inputs, "Prepared corpus directories (train.jsonl + val.jsonl), .jsonl files or text files")
      ->required();
  cmd->add_option("-o,--output", *out, "tokenizer.json to write (tokenizer_config.json goes beside it)")->required();
  cmd->add_option("--vocab", opt->vocab_size, "Vocabulary size, special and byte tokens included")
      ->capture_default_str()->check(CLI::Range(300, 1 << 24));
  cmd->add_option("--min-frequency", opt->min_frequency, "Never merge a pair seen fewer times")->capture_default_str();
  cmd->add_option("--special", *specials,
                  "Special tokens (ids 0..k-1 in this order; default <|endoftext|> <|im_start|> <|im_end|> <|pad|>)");
  return [=] {
    if (!specials->empty()) opt->special_tokens = *specials;
    if (std::find(opt->special_tokens.begin(), opt->special_tokens.end(), "<|endoftext|>") == opt->special_tokens.end())
      throw UserError("--special", "the list must include <|endoftext|> (the document separator)");
    for (const std::string& sp : opt->special_tokens)
      if (sp.size() == 1)  // it would be spelled like the byte token for the same byte
        throw user_error("--special", "'%s' is also an ordinary token (a single byte); use a name that cannot occur "
                         "in text, like <|name|>", sp.c_str());
    // The output is checked before minutes of training (an existing file is replaced).
    check_output_file(*out, "-o names the tokenizer.json file to write; tokenizer_config.json goes beside it");
    auto start = std::chrono::steady_clock::now();
    Tokenizer tok = train_bpe(*inputs, *opt);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto dir = std::filesystem::path(*out).parent_path();
    if (!dir.empty()) make_dirs(dir.string());
    tok.save(*out);
    auto config = (dir / "tokenizer_config.json").string();
    atomic_write_file(config, tok.config_json_text());
    std::printf("trained %zu tokens (%zu merges, %zu special) in %.2fs\nwrote %s\nwrote %s\n", tok.vocab_size(),
                tok.merges().size(), tok.added_tokens().size(), secs, out->c_str(), config.c_str());
    return 0;
  };
}

Runner add_encode(CLI::App& parent) {
  auto* cmd = parent.add_subcommand("encode", "Encode text: one input line -> one output line");
  auto tok_path = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>("-");
  auto tokens = std::make_shared<bool>(false);
  auto ids_flag = std::make_shared<bool>(false);
  cmd->add_option("--tokenizer", *tok_path, "tokenizer.json")->required();
  cmd->add_option("input", *input, "Text file, or - for stdin")->capture_default_str();
  auto* ids_opt = cmd->add_flag("--ids", *ids_flag, "Print space-separated ids (the default)");
  cmd->add_flag("--tokens", *tokens, "Print the tokens, spelled as in tokenizer.json (space is Ġ)")->excludes(ids_opt);
  return [=] {
    Tokenizer tok = Tokenizer::load(*tok_path);
    LineSource src(*input);
    std::vector<std::string> lines;
    std::string out;
    while (src.next_chunk(lines)) {
      auto encoded = tok.encode_batch(lines);
      out.clear();
      for (const auto& ids : encoded) {
        for (size_t k = 0; k < ids.size(); ++k) {
          if (k) out.push_back(' ');
          if (*tokens) out += tok.token_spelling(ids[k]);
          else out += std::to_string(ids[k]);
        }
        out.push_back('\n');
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
  };
}

Runner add_decode(CLI::App& parent) {
  auto* cmd = parent.add_subcommand("decode", "Decode id lines (space-separated) back to text");
  auto tok_path = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>("-");
  auto skip = std::make_shared<bool>(false);
  cmd->add_option("--tokenizer", *tok_path, "tokenizer.json")->required();
  cmd->add_option("input", *input, "File of id lines, or - for stdin")->capture_default_str();
  cmd->add_flag("--skip-special", *skip, "Leave special tokens out of the text");
  return [=] {
    Tokenizer tok = Tokenizer::load(*tok_path);
    LineSource src(*input);
    std::vector<std::string> lines;
    std::vector<uint32_t> ids;
    uint64_t line_no = 0;
    std::string out;
    while (src.next_chunk(lines)) {
      out.clear();
      for (const std::string& l : lines) {
        ++line_no;
        ids.clear();
        const char* p = l.data();
        const char* end = p + l.size();
        while (p < end) {
          while (p < end && (*p == ' ' || *p == '\t')) ++p;
          if (p == end) break;
          uint32_t id = 0;
          auto [q, ec] = std::from_chars(p, end, id);
          if (ec != std::errc() || (q < end && *q != ' ' && *q != '\t'))
            throw user_error(src.name(), "line %llu: '%s' is not a list of token ids", (unsigned long long)line_no,
                             l.substr(0, 60).c_str());
          if (id >= tok.vocab_size())
            throw user_error(src.name(), "line %llu: token id %u is outside the vocabulary (size %zu)",
                             (unsigned long long)line_no, id, tok.vocab_size());
          ids.push_back(id);
          p = q;
        }
        out += tok.decode(ids, *skip);
        out.push_back('\n');
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
  };
}

}  // namespace

Runner add_tokenizer(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Byte-level BPE tokenizer: train, encode, decode");
  cmd->require_subcommand(1);
  std::vector<std::pair<CLI::App*, Runner>> subs;
  for (auto add : {add_train, add_encode, add_decode}) {
    Runner r = add(*cmd);
    subs.emplace_back(cmd->get_subcommands({}).back(), std::move(r));
  }
  return [subs] {
    for (auto& [sub, run] : subs)
      if (sub->parsed()) return run();
    return 2;
  };
}

}  // namespace tlm::cli
