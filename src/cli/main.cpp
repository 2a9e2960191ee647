// tweetlm: one program, one subcommand per pipeline stage. This file owns the global options
// and the error contract: a user error prints one line "tweetlm: error: <input>: <problem>"
// and exits 2; an internal error exits 1; nothing ever prints a stack of internals.
#include <cstdio>
#include <new>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/log.h"
#include "core/threads.h"

#ifndef TLM_VERSION
#define TLM_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{"tweetlm: train language models on tweets and put them to work"};
  app.name("tweetlm");
  app.set_version_flag("--version", TLM_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  int threads = 0;
  bool verbose = false, quiet = false;
  app.add_option("-t,--threads", threads, "Threads to use (default: all cores)")->check(CLI::Range(0, 4096));
  app.add_flag("-v,--verbose", verbose, "Debug logging");
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors");

  std::vector<std::pair<CLI::App*, tlm::cli::Runner>> commands;
  auto add = [&](tlm::cli::Runner (*fn)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    tlm::cli::Runner run = fn(app);
    commands.emplace_back(app.get_subcommands({})[before], std::move(run));
  };
  add(tlm::cli::add_prepare);
  add(tlm::cli::add_tokenizer);
  add(tlm::cli::add_tokenize);
  add(tlm::cli::add_train_model);
  add(tlm::cli::add_eval);
  add(tlm::cli::add_generate);
  add(tlm::cli::add_plan);
  add(tlm::cli::add_export);
  add(tlm::cli::add_serve);
  add(tlm::cli::add_index);
  add(tlm::cli::add_search);
  add(tlm::cli::add_ads);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::fprintf(stderr, "tweetlm: error: %s (see 'tweetlm --help')\n", what.c_str());
    return 2;
  }

  if (verbose) tlm::set_log_level(tlm::LogLevel::debug);
  if (quiet) tlm::set_log_level(tlm::LogLevel::warn);
  tlm::set_num_threads(threads);
  try {
    for (auto& [sub, run] : commands)
      if (sub->parsed()) return run();
    return 2;
  } catch (const tlm::UserError& e) {
    std::fprintf(stderr, "tweetlm: error: %s\n", e.what());
    return 2;
  } catch (const tlm::InternalError& e) {
    std::fprintf(stderr, "tweetlm: internal error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "tweetlm: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tweetlm: error: %s\n", e.what());
    return 1;
  }
}
