// `tweetlm prepare`: options and output of the data pipeline (src/data/prepare.h).
#include <cstdio>

#include "cli/commands.h"
#include "core/check.h"
#include "data/prepare.h"
#include "data/tweet_time.h"

namespace tlm::cli {

Runner add_prepare(CLI::App& app) {
  auto* cmd = app.add_subcommand("prepare", "Turn raw tweets into a clean, de-duplicated, split corpus");
  auto opt = std::make_shared<PrepareOptions>();
  auto format = std::make_shared<std::string>("auto");
  auto split = std::make_shared<std::string>("0.98,0.01,0.01");
  auto json = std::make_shared<bool>(false);
  auto no = std::make_shared<NormalizeOptions>();
  cmd->add_option("-i,--input", opt->inputs,
                  "Input files or directories: Twitter archive (tweets.js or the unpacked archive folder), "
                  "API v1.1/v2 JSON, CSV, plain text, fortune; .gz/.zst read transparently")
      ->required();
  cmd->add_option("-o,--output", opt->outdir, "Output directory (train/val/test.jsonl, report.json)")->required();
  cmd->add_option("--format", *format, "Input format: auto, archive, json (v1, v2), csv, text, fortune")
      ->capture_default_str();
  cmd->add_option("--text-column", opt->read.text_column, "CSV column holding the tweet text")->capture_default_str();
  cmd->add_option("--lang", opt->langs, "Keep only these languages, e.g. en,pt (tweets without lang are kept)")
      ->delimiter(',');
  auto since = std::make_shared<std::string>(), until = std::make_shared<std::string>();
  cmd->add_option("--since", *since, "Keep tweets created at or after DATE (2020-01-31, 2020-01-31T12:00:00Z, ...; UTC)");
  cmd->add_option("--until", *until, "Keep tweets created up to DATE, a bare date including its whole day (tweets "
                                     "without a date are dropped when either is given)");
  cmd->add_option("--min-chars", opt->min_chars, "Drop tweets shorter than this (code points, after normalization)")
      ->capture_default_str();
  cmd->add_option("--near-dup", opt->near_dup, "Also drop near-duplicates at this Jaccard similarity, e.g. 0.8 (0 = off)")
      ->capture_default_str();
  cmd->add_option("--split", *split, "Train,val,test fractions (by hash of tweet id, or text)")->capture_default_str();
  cmd->add_flag("--keep-retweets", opt->keep_retweets, "Keep retweets (dropped by default)");
  cmd->add_flag("--strict", opt->strict, "Stop at the first malformed record instead of skipping it");
  cmd->add_flag("--json", *json, "Print report.json to stdout instead of the summary");
  cmd->add_flag("--no-unescape", [no](int64_t) { no->unescape_html = false; }, "Keep HTML entities (&amp;) as they are");
  cmd->add_flag("--no-mentions", [no](int64_t) { no->mentions = false; }, "Keep @names (default: @user)");
  cmd->add_flag("--no-links", [no](int64_t) { no->links = false; }, "Keep links (default: http)");
  cmd->add_flag("--no-nfc", [no](int64_t) { no->nfc = false; }, "Skip Unicode NFC normalization");
  cmd->add_flag("--no-control", [no](int64_t) { no->strip_control = false; }, "Keep control characters");
  cmd->add_flag("--no-whitespace", [no](int64_t) { no->collapse_whitespace = false; }, "Keep whitespace as it is");
  return [=]() {
    opt->read.format = parse_format(*format);
    opt->split = SplitFractions::parse(*split);
    opt->normalize = *no;
    // The bounds of `search --since/--until`: a bare --until date keeps that whole day.
    if (!since->empty()) opt->since = parse_date_bound(*since, false, "--since");
    if (!until->empty()) opt->until = parse_date_bound(*until, true, "--until");
    if (opt->since && opt->until && *opt->since > *opt->until)
      throw user_error("--until", "'%s' is before --since '%s': no tweet could be kept", until->c_str(), since->c_str());
    PrepareReport rep = prepare(*opt);
    if (*json) std::printf("%s\n", rep.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    else std::fputs(rep.summary().c_str(), stdout);
    return 0;
  };
}

}  // namespace tlm::cli
