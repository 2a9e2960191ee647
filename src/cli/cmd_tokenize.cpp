// `tweetlm tokenize`: options and output of prepared corpus -> token shards
// (src/tokenizer/tokenize_corpus.h). The tokenizer is `--tokenizer` (no short form): `-t` means
// threads in every command (main.cpp's global option, reached through fallthrough).
#include <cstdio>

#include "cli/commands.h"
#include "core/check.h"
#include "tokenizer/tokenize_corpus.h"

namespace tlm::cli {

Runner add_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Encode a prepared corpus into token shards for training");
  auto input = std::make_shared<std::string>();
  auto tokenizer = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  auto opt = std::make_shared<TokenizeOptions>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("-i,--input", *input, "Prepared corpus directory (train/val/test.jsonl from 'tweetlm prepare')")
      ->required();
  cmd->add_option("--tokenizer", *tokenizer, "tokenizer.json (from 'tweetlm tokenizer train', or any GPT-2-style one)")
      ->required();
  cmd->add_option("-o,--output", *output, "Output directory for <split>_NNNNNN.bin shards and meta.json")->required();
  cmd->add_option("--shard-tokens", opt->shard_tokens, "Most tokens per shard file")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_flag("--json", *json, "Print meta.json to stdout instead of the summary");
  return [=]() {
    opt->tokenizer_path = *tokenizer;
    Tokenizer tok = Tokenizer::load(*tokenizer);
    TokenizeReport rep = tokenize_corpus(*input, tok, *output, *opt);
    if (*json) std::printf("%s\n", rep.to_json().dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    else std::fputs(rep.summary().c_str(), stdout);
    return 0;
  };
}

}  // namespace tlm::cli
