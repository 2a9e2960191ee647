// `tweetlm ads`: the advertising apps (src/apps/ads) on the command line.
//   train-safety  brand-safety probes trained on TweetEval offensive + hate -> safety.json
//   safety        risk and labels per tweet
//   match         campaigns ranked for each tweet (contextual targeting), with exclusions
//   copy          ad tweets for a product, at most 280 characters as Twitter counts them
// Parsing and printing only; the work is in the library, which the server calls too.
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/ads/ad_copy.h"
#include "apps/ads/ad_text.h"
#include "apps/ads/safety.h"
#include "apps/ads/targeting.h"
#include "cli/commands.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "core/text.h"
#include "store/model_loader.h"
#include "infer/text_model.h"

namespace tlm::cli {

namespace {

using nlohmann::json;
using namespace tlm::apps;

struct ModelArgs {
  std::string model, tokenizer;
  int batch = 16;
};

void add_model_options(CLI::App* cmd, ModelArgs& m) {
  cmd->add_option("-m,--model", m.model, "Checkpoint, run directory, model directory or GGUF file")->required();
  cmd->add_option("--tokenizer", m.tokenizer, "tokenizer.json to use instead of the model directory's");
  cmd->add_option("--batch", m.batch, "Texts per forward pass")->capture_default_str()->check(CLI::Range(1, 1024));
}

struct Loaded {
  LoadedModel lm;
  std::unique_ptr<LocalTextModel> tm;
};

Loaded load(const ModelArgs& a) {
  Loaded l;
  l.lm = load_model(a.model, a.tokenizer);
  l.tm = std::make_unique<LocalTextModel>(*l.lm.model, l.lm.tokenizer, a.batch);
  const ModelConfig& c = l.lm.model->config();
  log_info("model: %s: %.1fM parameters, %d layers, width %d", l.lm.dir.c_str(), double(c.num_params()) / 1e6,
           c.n_layers, c.dim);
  return l;
}

void print_line(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

std::string labels_text(const std::vector<std::string>& labels) {
  std::string s;
  for (const auto& l : labels) s += (s.empty() ? "" : ",") + l;
  return s;
}

// ---- train-safety ----
struct TrainSafetyArgs {
  ModelArgs m;
  std::string data, out;
  std::vector<double> l2;
  size_t max_train = 0;
  int max_iter = 300;
};

int run_train_safety(const TrainSafetyArgs& a) {
  if (!is_directory(a.data)) throw user_error(a.data, "not a directory (expected TweetEval: DIR/offensive, DIR/hate)");
  std::vector<SafetyTask> tasks;
  for (const char* t : {"offensive", "hate"}) tasks.push_back(load_safety_task(a.data, t));
  Loaded l = load(a.m);
  SafetyTrainOptions opt;
  if (!a.l2.empty()) opt.l2_grid = a.l2;
  opt.max_train = a.max_train;
  opt.max_iter = a.max_iter;
  SafetyClassifier sc = train_safety(*l.tm, tasks, opt, l.lm.dir);
  sc.save(a.out);
  std::printf("%-10s %-16s %8s %9s %9s %9s %13s\n", "task", "features", "l2", "threshold", "val F1", "test F1",
              "RoBERTa-base");
  for (const SafetyProbe& p : sc.probes)
    std::printf("%-10s %-16s %8g %9.2f %9.1f %9s %13.1f\n", p.task.c_str(), p.variant.name.c_str(), p.l2, p.threshold,
                100 * p.val.macro_f1, p.test.n ? strprintf("%.1f", 100 * p.test.macro_f1).c_str() : "-",
                roberta_base_score(p.task));
  std::printf("(macro-F1 x 100, TweetEval's official metric for both tasks; test scored once with the choices made on val)\n");
  std::printf("saved %s\n", a.out.c_str());
  return 0;
}

// ---- safety ----
struct SafetyArgs {
  ModelArgs m;
  std::string classifier, input;
  bool json_out = false;
};

int run_safety(const SafetyArgs& a) {
  const SafetyClassifier sc = SafetyClassifier::load(a.classifier);
  const std::vector<AdTweet> tweets = read_ad_tweets(a.input);
  Loaded l = load(a.m);
  std::vector<std::string> texts;
  for (const auto& t : tweets) texts.push_back(t.text);
  const std::vector<SafetyVerdict> v = sc.classify(*l.tm, texts, a.classifier);
  for (size_t i = 0; i < v.size(); i++) {
    if (a.json_out) {
      json p = json::object();
      for (const auto& [task, prob] : v[i].probability) p[task] = prob;
      json j = {{"text", texts[i]}, {"risk", v[i].risk}, {"labels", v[i].labels}, {"probabilities", p}};
      if (!tweets[i].id.empty()) j["id"] = tweets[i].id;
      print_line(j.dump());
    } else {
      print_line(strprintf("%.3f\t%s\t", v[i].risk, labels_text(v[i].labels).c_str()) + one_line(texts[i], true));
    }
  }
  return 0;
}

// ---- match ----
struct MatchArgs {
  ModelArgs m;
  std::string campaigns, classifier, input;
  MatchOptions opt;
  bool json_out = false;
};

int run_match(const MatchArgs& a) {
  const std::vector<Campaign> campaigns = load_campaigns(a.campaigns);
  std::unique_ptr<SafetyClassifier> sc;
  if (!a.classifier.empty()) sc = std::make_unique<SafetyClassifier>(SafetyClassifier::load(a.classifier));
  const std::vector<AdTweet> tweets = read_ad_tweets(a.input);
  Loaded l = load(a.m);
  const std::vector<TweetMatch> m = match_campaigns(campaigns, tweets, *l.tm, sc.get(), a.opt);
  for (size_t i = 0; i < m.size(); i++) {
    if (a.json_out) {
      print_line(match_json(campaigns, tweets[i], m[i]).dump());
      continue;
    }
    std::string head = "tweet " + std::to_string(i + 1);
    if (m[i].has_safety) head += strprintf(" (risk %.2f, %s)", m[i].safety.risk, labels_text(m[i].safety.labels).c_str());
    print_line(head + ": " + one_line(tweets[i].text, true));
    if (m[i].ranked.empty()) print_line("  no campaign");
    for (size_t r = 0; r < m[i].ranked.size(); r++) {
      const CampaignScore& s = m[i].ranked[r];
      std::string hits;
      for (const auto& h : s.keyword_hits) hits += (hits.empty() ? "" : ", ") + h;
      print_line(strprintf("  %zu. %s  score %.3f = similarity %.3f + %zu keyword%s", r + 1,
                           campaigns[size_t(s.campaign)].name.c_str(), s.score, s.similarity, s.keyword_hits.size(),
                           s.keyword_hits.size() == 1 ? "" : "s") +
                 (hits.empty() ? "" : " (" + hits + ")"));
    }
    for (const Exclusion& e : m[i].excluded)
      print_line("  excluded " + campaigns[size_t(e.campaign)].name + ": " + e.reason);
  }
  return 0;
}

// ---- copy ----
struct CopyArgs {
  ModelArgs m;
  std::string classifier, keywords;
  CopyOptions opt;
  int64_t seed = 1337;
  bool json_out = false;
};

int run_copy(const CopyArgs& a) {
  CopyOptions opt = a.opt;
  std::stringstream ss(a.keywords);
  for (std::string kw; std::getline(ss, kw, ',');) {
    while (!kw.empty() && kw.front() == ' ') kw.erase(kw.begin());
    while (!kw.empty() && kw.back() == ' ') kw.pop_back();
    if (!kw.empty()) opt.keywords.push_back(kw);
  }
  if (a.seed < 0) {
    std::random_device rd;
    opt.seed = (uint64_t(rd()) << 32) | rd();
    log_info("seed: %llu", static_cast<unsigned long long>(opt.seed));
  } else {
    opt.seed = uint64_t(a.seed);
  }
  try {
    validate(opt);
  } catch (const UserError& e) {  // name the flag, not the API field
    const std::string& f = e.input();
    const std::string flag = f == "n" ? "-n" : f == "temperature" ? "--temp" : f == "max_tokens" ? "--max-tokens" : "--" + f;
    throw UserError(flag, e.problem());
  }
  std::unique_ptr<SafetyClassifier> sc;
  if (!a.classifier.empty()) sc = std::make_unique<SafetyClassifier>(SafetyClassifier::load(a.classifier));
  Loaded l = load(a.m);
  const CopyResult r = generate_ad_copy(*l.tm, sc.get(), opt);
  for (const AdCopy& ad : r.ads) {
    if (a.json_out) {
      json j = {{"text", ad.text}, {"score", ad.score}, {"logprob", ad.logprob}, {"tokens", ad.tokens},
                {"length", ad.length}, {"truncated", ad.truncated}};
      if (ad.has_safety) j["risk"] = ad.safety.risk;
      print_line(j.dump());
    } else {
      print_line(strprintf("%.3f\t%d\t", ad.score, ad.length) + one_line(ad.text, true));
    }
  }
  log_info("copy: prompt \"%s\": %d sampled, %d empty, %d duplicates, %d unsafe, %d too long, %d cut to fit, %zu kept",
           r.prompt.c_str(), r.sampled, r.empty, r.duplicates, r.unsafe, r.too_long, r.truncated, r.ads.size());
  if (r.ads.empty()) log_warn("copy: no candidate survived the filters; try more --candidates or another --seed");
  return 0;
}

}  // namespace

Runner add_ads(CLI::App& app) {
  auto* cmd = app.add_subcommand("ads", "Advertising: brand safety, contextual targeting, ad copy (docs/ads.md)");
  cmd->require_subcommand(1);
  std::vector<std::pair<CLI::App*, Runner>> subs;

  {
    auto* c = cmd->add_subcommand("train-safety", "Train brand-safety probes on TweetEval offensive and hate");
    auto a = std::make_shared<TrainSafetyArgs>();
    add_model_options(c, a->m);
    c->add_option("--data", a->data, "TweetEval directory (with offensive/ and hate/)")->required();
    c->add_option("-o,--out", a->out, "Classifier file to write (JSON)")->required();
    c->add_option("--l2", a->l2, "L2 strengths to choose from on val (default: 1e-4 1e-3 1e-2 1e-1)");
    c->add_option("--max-train", a->max_train, "Use only the first N training tweets of each task (0: all)");
    c->add_option("--max-iter", a->max_iter, "L-BFGS iterations")->capture_default_str()->check(CLI::Range(1, 100000));
    subs.emplace_back(c, [a] { return run_train_safety(*a); });
  }
  {
    auto* c = cmd->add_subcommand("safety", "Brand-safety risk and labels for each tweet");
    auto a = std::make_shared<SafetyArgs>();
    add_model_options(c, a->m);
    c->add_option("--classifier", a->classifier, "Classifier from `ads train-safety`")->required();
    c->add_option("-i,--input", a->input, "Tweets: text (one per line), JSON lines with \"text\", or - for stdin")
        ->required();
    c->add_flag("--json", a->json_out, "One JSON object per line");
    subs.emplace_back(c, [a] { return run_safety(*a); });
  }
  {
    auto* c = cmd->add_subcommand("match", "Rank campaigns for each tweet (contextual targeting)");
    auto a = std::make_shared<MatchArgs>();
    add_model_options(c, a->m);
    c->add_option("--campaigns", a->campaigns, "Campaigns (JSON array; docs/ads.md)")->required();
    c->add_option("--classifier", a->classifier, "Brand-safety classifier (without it, campaigns with min_safety > 0 "
                  "get no tweet)");
    c->add_option("-i,--input", a->input, "Tweets: text (one per line), JSON lines with \"text\" and \"lang\", or -")
        ->required();
    c->add_option("-k", a->opt.k, "Campaigns per tweet")->capture_default_str()->check(CLI::Range(1, 1000));
    c->add_option("--keyword-weight", a->opt.keyword_weight, "Score added per keyword found in the tweet")
        ->capture_default_str();
    c->add_option("--topic-threshold", a->opt.topic_threshold,
                  "Also exclude a topic when the tweet's embedding similarity to it reaches this (> 1: off)")
        ->capture_default_str();
    c->add_flag("--json", a->json_out, "One JSON object per tweet and line");
    subs.emplace_back(c, [a] { return run_match(*a); });
  }
  {
    auto* c = cmd->add_subcommand("copy", "Write ad tweets for a product (<= 280 characters as Twitter counts)");
    auto a = std::make_shared<CopyArgs>();
    add_model_options(c, a->m);
    c->add_option("--product", a->opt.product, "The product, as the ad should name it")->required();
    c->add_option("--keywords", a->keywords, "Keywords, comma-separated (become hashtags in the prompt)");
    c->add_option("-n", a->opt.n, "Ads to print")->capture_default_str();
    c->add_option("--candidates", a->opt.candidates, "Candidates to sample (default: 4 n)");
    c->add_option("--temp", a->opt.temperature, "Sampling temperature")->capture_default_str();
    c->add_option("-s,--seed", a->seed, "Random seed (-1: a random one)")->capture_default_str();
    c->add_option("--max-tokens", a->opt.max_tokens, "Most tokens per candidate")->capture_default_str();
    c->add_option("--classifier", a->classifier, "Drop candidates this brand-safety classifier labels unsafe");
    c->add_flag("--json", a->json_out, "One JSON object per line");
    subs.emplace_back(c, [a] { return run_copy(*a); });
  }
  return [subs] {
    for (auto& [sub, run] : subs)
      if (sub->parsed()) return run();
    return 2;
  };
}

}  // namespace tlm::cli
