// The subcommands of the tweetlm program. Each registers its options on a CLI11 subcommand and
// returns the function to run once the command line is parsed. CLI code parses and prints
// only; the work is done by the library.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace tlm::cli {

using Runner = std::function<int()>;

Runner add_prepare(CLI::App& app);
Runner add_tokenizer(CLI::App& app);  // tokenizer train | encode | decode
Runner add_tokenize(CLI::App& app);   // prepared corpus -> token shards
Runner add_train_model(CLI::App& app);  // train: token shards -> checkpoints (add_train is the tokenizer's)
Runner add_eval(CLI::App& app);       // eval ppl
Runner add_generate(CLI::App& app);   // text from a trained model (src/infer)
Runner add_plan(CLI::App& app);       // cost of a run on many GPUs (src/apps/plan/planner.h)
Runner add_export(CLI::App& app);     // a model in other formats (GGUF)
Runner add_serve(CLI::App& app);      // OpenAI-compatible HTTP server (src/serve)
Runner add_index(CLI::App& app);      // tweet search index: SQLite FTS5 + HNSW (src/apps/search)
Runner add_search(CLI::App& app);     // one query against a search index
Runner add_ads(CLI::App& app);        // ads train-safety | safety | match | copy (src/apps/ads)

}  // namespace tlm::cli
