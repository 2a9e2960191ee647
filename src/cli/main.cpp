// tweetlm: one program, one subcommand per pipeline stage. This file owns the global options
// and the error contract: a user error prints one line "tweetlm: error: <input>: <problem>"
// and exits 2; an internal error exits 1; nothing ever prints a stack of internals.
// Before CLI11 parses, argv is rewritten for llama.cpp's `-np` (CLI11 has no multi-character
// short options) and an unknown command word is reported with the nearest command's name.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/log.h"
#include "core/threads.h"

#ifndef TLM_VERSION
#define TLM_VERSION "0.1.0"
#endif

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "did you mean 'train'?" for a typo close enough to one command; else the list of commands.
std::string unknown_command(const CLI::App& parent, const std::string& word) {
  std::string best, names;
  size_t best_d = std::string::npos;
  for (const CLI::App* sub : parent.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string& name = sub->get_name();
    names += (names.empty() ? "" : ", ") + name;
    size_t d = edit_distance(word, name);
    if (d < best_d) best_d = d, best = name;
  }
  if (!best.empty() && best_d <= std::max<size_t>(2, best.size() / 3))
    return "unknown command (did you mean '" + best + "'?)";
  return "unknown command (commands: " + names + ")";
}

// The first word where a command is expected that names none: "trian", or "tokenizer trian".
// Global options (and the value of -t/--threads) may come before it; any other option stops the
// search and is left to CLI11. Returns the one error line, or "" when all is well.
std::string check_command_words(const CLI::App& app, int argc, char** argv) {
  const CLI::App* parent = &app;
  std::string path;
  for (int i = 1; i < argc; i++) {
    std::string_view w = argv[i];
    if (w == "-v" || w == "--verbose" || w == "-q" || w == "--quiet" || w.starts_with("--threads=")) continue;
    if (w == "-t" || w == "--threads") {
      i++;
      continue;
    }
    if (w.empty() || w[0] == '-') return "";
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : parent->get_subcommands([](const CLI::App*) { return true; }))
      if (s->get_name() == w) sub = s;
    if (!sub) return path + std::string(w) + ": " + unknown_command(*parent, std::string(w));
    if (sub->get_subcommands([](const CLI::App*) { return true; }).empty()) return "";
    path += std::string(w) + " ";
    parent = sub;
  }
  return "";
}

// CLI11's messages as one line: no newline inside, and "--flag: problem" where CLI11 says
// "The following argument was not expected: --flag".
std::string one_line_parse_error(const CLI::ParseError& e) {
  std::string what = e.what();
  std::replace(what.begin(), what.end(), '\n', ' ');
  while (!what.empty() && what.back() == ' ') what.pop_back();
  for (const char* prefix : {"The following argument was not expected: ", "The following arguments were not expected: "})
    if (what.starts_with(prefix)) return what.substr(std::strlen(prefix)) + ": unknown option";
  return what;
}

}  // namespace

int main(int argc, char** argv) {
  // llama.cpp spells --parallel as -np: CLI11 only has one-character short options, so the word
  // is rewritten before parsing (as a whole word, or -np=N), for serve and generate alike.
  std::vector<std::string> np_rewrites;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "-np") == 0) argv[i] = const_cast<char*>("--parallel");
    else if (std::strncmp(argv[i], "-np=", 4) == 0) np_rewrites.push_back(std::string("--parallel=") + (argv[i] + 4));
  }
  for (int i = 1, k = 0; i < argc; i++)
    if (std::strncmp(argv[i], "-np=", 4) == 0) argv[i] = np_rewrites[size_t(k++)].data();

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

  if (std::string bad = check_command_words(app, argc, argv); !bad.empty()) {
    std::fprintf(stderr, "tweetlm: error: %s\n", bad.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = one_line_parse_error(e);
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
