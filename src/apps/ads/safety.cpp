// Brand-safety probes: training with choices made on val, calibration, and the JSON file
// (see safety.h).
#include "apps/ads/safety.h"

#include <algorithm>
#include <cmath>

#include "apps/ads/ad_text.h"
#include "apps/eval/scores.h"
#include "apps/eval/tweeteval.h"
#include "core/check.h"
#include "core/file.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"

namespace tlm::apps {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "tweetlm-brand-safety";

std::vector<float> slice(const std::vector<float>& f, const std::vector<int>& layers, int dim, const FeatureVariant& v) {
  const size_t li = size_t(std::find(layers.begin(), layers.end(), v.layer) - layers.begin());
  TLM_CHECK(li < layers.size(), "variant layer %d not extracted", v.layer);
  const size_t base = li * 2 * size_t(dim);
  std::vector<float> out;
  out.reserve(size_t(dim) * (v.mean + v.last));
  if (v.mean) out.insert(out.end(), f.begin() + long(base), f.begin() + long(base + dim));
  if (v.last) out.insert(out.end(), f.begin() + long(base + dim), f.begin() + long(base + 2 * dim));
  return out;
}

FeatureMatrix variant_matrix(const std::vector<std::vector<float>>& feats, const std::vector<int>& layers, int dim,
                             const FeatureVariant& v) {
  std::vector<std::vector<float>> rows;
  rows.reserve(feats.size());
  for (const auto& f : feats) rows.push_back(slice(f, layers, dim, v));
  return FeatureMatrix::from_rows(rows);
}

double clamp_logit(double q) {
  q = std::clamp(q, 1e-12, 1 - 1e-12);
  return std::log(q / (1 - q));
}
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// Platt scaling: a, b minimising the log-loss of sigmoid(a * x + b) on (x, y), by Newton's
// method with a tiny ridge so separable data stays finite.
void fit_platt(const std::vector<double>& x, const std::vector<int>& y, double& a, double& b) {
  a = 1, b = 0;
  const double ridge = 1e-3;
  for (int it = 0; it < 50; it++) {
    double ga = ridge * (a - 1), gb = 0, haa = ridge, hab = 0, hbb = 1e-9;
    for (size_t i = 0; i < x.size(); i++) {
      const double p = sigmoid(a * x[i] + b), r = p - y[i], w = std::max(p * (1 - p), 1e-12);
      ga += r * x[i];
      gb += r;
      haa += w * x[i] * x[i];
      hab += w * x[i];
      hbb += w;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (std::abs(da) + std::abs(db) < 1e-9) break;
  }
  if (!std::isfinite(a) || !std::isfinite(b)) a = 1, b = 0;
}

ProbeScores score_split(const std::vector<double>& p, const std::vector<int>& y, double threshold) {
  std::vector<int> pred(p.size());
  for (size_t i = 0; i < p.size(); i++) pred[i] = p[i] >= threshold ? 1 : 0;
  Confusion c(y, pred, 2);
  return {c.macro_f1(), c.f1(1), c.accuracy(), long(y.size())};
}

// The threshold (0.01 .. 0.99) with the best macro-F1; ties go to the one nearest 0.5.
double best_threshold(const std::vector<double>& p, const std::vector<int>& y, double* best_f1) {
  double best_t = 0.5, best = -1;
  for (int k = 1; k <= 99; k++) {
    const double t = k / 100.0, f = score_split(p, y, t).macro_f1;
    if (f > best + 1e-12 || (std::abs(f - best) <= 1e-12 && std::abs(t - 0.5) < std::abs(best_t - 0.5))) {
      best = f;
      best_t = t;
    }
  }
  if (best_f1) *best_f1 = best;
  return best_t;
}

std::vector<double> positive_proba(const LogisticRegression& m, const FeatureMatrix& X) {
  const std::vector<float> pr = m.predict_proba(X);
  std::vector<double> out(X.rows);
  for (size_t i = 0; i < X.rows; i++) out[i] = pr[i * 2 + 1];
  return out;
}

std::vector<double> calibrate(const std::vector<double>& q, double a, double b) {
  std::vector<double> out(q.size());
  for (size_t i = 0; i < q.size(); i++) out[i] = sigmoid(a * clamp_logit(q[i]) + b);
  return out;
}

std::vector<std::vector<float>> extract(TextModel& model, const std::vector<std::string>& texts,
                                        const std::vector<int>& layers, int batch, Progress* progress, double& done) {
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (size_t first = 0; first < texts.size(); first += size_t(batch)) {
    std::vector<std::string> chunk;
    for (size_t i = first; i < std::min(texts.size(), first + size_t(batch)); i++) chunk.push_back(model_text(texts[i]));
    for (auto& f : model.features(chunk, layers)) out.push_back(std::move(f));
    done += double(chunk.size());
    if (progress) progress->update(done);
  }
  return out;
}

json variant_json(const FeatureVariant& v) {
  json pool = json::array();
  if (v.mean) pool.push_back("mean");
  if (v.last) pool.push_back("last");
  return {{"name", v.name}, {"layer", v.layer}, {"pool", pool}};
}

json scores_json(const ProbeScores& s) {
  return {{"macro_f1", s.macro_f1}, {"f1_positive", s.f1_positive}, {"accuracy", s.accuracy}, {"n", s.n}};
}

// Reading the file: every problem names the file and the field.
struct Reader {
  const std::string& what;
  template <typename T>
  T get(const json& j, const char* key, const std::string& where) const {
    if (!j.is_object() || !j.contains(key)) throw user_error(what, "%s: \"%s\" is missing", where.c_str(), key);
    try {
      return j.at(key).get<T>();
    } catch (const json::exception&) {
      throw user_error(what, "%s: \"%s\" has the wrong type", where.c_str(), key);
    }
  }
};

ProbeScores scores_from(const json& j) {
  ProbeScores s;
  if (!j.is_object()) return s;
  s.macro_f1 = j.value("macro_f1", 0.0);
  s.f1_positive = j.value("f1_positive", 0.0);
  s.accuracy = j.value("accuracy", 0.0);
  s.n = j.value("n", 0L);
  return s;
}

}  // namespace

std::vector<FeatureVariant> safety_variants(int L) {
  std::vector<FeatureVariant> v = {{"last_mean", L, true, false}, {"last_token", L, false, true},
                                   {"last_mean+token", L, true, true}};
  const int mid = (L + 1) / 2;
  if (mid < L) v.push_back({"middle_mean", mid, true, false});
  return v;
}

double roberta_base_score(const std::string& task) {
  if (task == "offensive") return 79.5;
  if (task == "hate") return 46.6;
  return 0;
}

SafetyTask load_safety_task(const std::string& dir, const std::string& task) {
  SafetyTask t;
  t.name = task;
  const std::string root = dir + "/" + task;
  t.train = read_tweeteval_split(root, "train", 2, true);
  t.val = read_tweeteval_split(root, "val", 2, true);
  t.test = read_tweeteval_split(root, "test", 2, false);
  if (t.train.text.empty()) throw user_error(root + "/train_text.txt", "no tweets");
  if (t.val.text.empty()) throw user_error(root + "/val_text.txt", "no tweets");
  return t;
}

SafetyClassifier train_safety(TextModel& model, const std::vector<SafetyTask>& tasks, const SafetyTrainOptions& opt,
                              const std::string& model_name) {
  TLM_CHECK(!tasks.empty(), "train_safety: no tasks");
  if (opt.l2_grid.empty()) throw user_error("--l2", "no L2 strengths to try");
  SafetyClassifier sc;
  sc.dim = model.dim();
  sc.n_layers = model.n_layers();
  sc.model = model_name;
  const std::vector<FeatureVariant> variants = safety_variants(sc.n_layers);
  std::vector<int> layers;
  for (const auto& v : variants) layers.push_back(v.layer);
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());

  double total = 0, done = 0;
  for (const SafetyTask& t : tasks)
    total += double(std::min(t.train.text.size(), opt.max_train ? opt.max_train : t.train.text.size()) +
                    t.val.text.size() + t.test.text.size());
  Progress progress("features", total);
  struct Feats {
    std::vector<std::vector<float>> train, val, test;
    std::vector<int> ytrain;
  };
  std::vector<Feats> feats(tasks.size());
  for (size_t k = 0; k < tasks.size(); k++) {
    const SafetyTask& t = tasks[k];
    std::vector<std::string> train_text = t.train.text;
    feats[k].ytrain = t.train.label;
    if (opt.max_train && train_text.size() > opt.max_train) {
      train_text.resize(opt.max_train);
      feats[k].ytrain.resize(opt.max_train);
    }
    feats[k].train = extract(model, train_text, layers, opt.batch, &progress, done);
    feats[k].val = extract(model, t.val.text, layers, opt.batch, &progress, done);
    feats[k].test = extract(model, t.test.text, layers, opt.batch, &progress, done);
  }
  progress.finish();

  for (size_t k = 0; k < tasks.size(); k++) {
    const SafetyTask& t = tasks[k];
    const Feats& f = feats[k];
    for (int c : {0, 1})
      if (std::find(f.ytrain.begin(), f.ytrain.end(), c) == f.ytrain.end())
        throw user_error(t.name, "the training split has no tweet of class %d (a probe needs both)", c);
    SafetyProbe best;
    best.task = t.name;
    double best_f1 = -1;
    json selection = json::array();
    for (const FeatureVariant& v : variants) {
      const FeatureMatrix Xtr = variant_matrix(f.train, layers, sc.dim, v), Xva = variant_matrix(f.val, layers, sc.dim, v);
      for (double l2 : opt.l2_grid) {
        LogRegOptions lo;
        lo.l2 = l2;
        lo.max_iter = opt.max_iter;
        LogisticRegression m = LogisticRegression::train(Xtr, f.ytrain, 2, lo);
        const std::vector<double> q = positive_proba(m, Xva);
        std::vector<double> x(q.size());
        for (size_t i = 0; i < q.size(); i++) x[i] = clamp_logit(q[i]);
        double a, b;
        fit_platt(x, t.val.label, a, b);
        const std::vector<double> p = calibrate(q, a, b);
        double f1 = 0;
        const double thr = best_threshold(p, t.val.label, &f1);
        log_info("safety %s: %s, l2 %g: val macro-F1 %.1f (threshold %.2f)", t.name.c_str(), v.name.c_str(), l2,
                 100 * f1, thr);
        selection.push_back({{"variant", v.name}, {"l2", l2}, {"val_macro_f1", f1}, {"threshold", thr}});
        if (f1 > best_f1 + 1e-12) {
          best_f1 = f1;
          best.variant = v;
          best.l2 = l2;
          best.model = std::move(m);
          best.calib_a = a;
          best.calib_b = b;
          best.threshold = thr;
          best.val = score_split(p, t.val.label, thr);
        }
      }
    }
    best.selection = std::move(selection);
    if (!f.test.empty()) {
      const FeatureMatrix Xte = variant_matrix(f.test, layers, sc.dim, best.variant);
      best.test = score_split(calibrate(positive_proba(best.model, Xte), best.calib_a, best.calib_b), t.test.label,
                              best.threshold);
    }
    sc.probes.push_back(std::move(best));
  }
  return sc;
}

std::vector<int> SafetyClassifier::layers() const {
  std::vector<int> l;
  for (const auto& p : probes) l.push_back(p.variant.layer);
  std::sort(l.begin(), l.end());
  l.erase(std::unique(l.begin(), l.end()), l.end());
  return l;
}

std::vector<SafetyVerdict> SafetyClassifier::classify(TextModel& model, const std::vector<std::string>& texts,
                                                      const std::string& what) const {
  if (model.dim() != dim)
    throw user_error(what, "trained on a model of width %d, this model has width %d", dim, model.dim());
  if (model.n_layers() < n_layers || model.n_layers() < layers().back())
    throw user_error(what, "trained on a model of %d layers, this model has %d", n_layers, model.n_layers());
  std::vector<SafetyVerdict> out(texts.size());
  if (texts.empty()) return out;
  const std::vector<int> ls = layers();
  std::vector<std::string> normed;
  normed.reserve(texts.size());
  for (const auto& t : texts) normed.push_back(model_text(t));
  const std::vector<std::vector<float>> feats = model.features(normed, ls);
  for (auto& v : out) v.probability.resize(probes.size());
  for (size_t k = 0; k < probes.size(); k++) {
    const SafetyProbe& p = probes[k];
    const std::vector<double> pr =
        calibrate(positive_proba(p.model, variant_matrix(feats, ls, dim, p.variant)), p.calib_a, p.calib_b);
    for (size_t i = 0; i < texts.size(); i++) {
      out[i].probability[k] = {p.task, pr[i]};
      out[i].risk = std::max(out[i].risk, pr[i]);
      if (pr[i] >= p.threshold) out[i].labels.push_back(p.task);
    }
  }
  for (auto& v : out)
    if (v.labels.empty()) v.labels = {"safe"};
  return out;
}

json SafetyClassifier::to_json() const {
  json probes_j = json::array();
  for (const SafetyProbe& p : probes)
    probes_j.push_back({{"task", p.task},
                        {"variant", variant_json(p.variant)},
                        {"l2", p.l2},
                        {"threshold", p.threshold},
                        {"calibration", {{"a", p.calib_a}, {"b", p.calib_b}}},
                        {"scores", {{"val", scores_json(p.val)}, {"test", scores_json(p.test)}}},
                        {"roberta_base_test_macro_f1", roberta_base_score(p.task)},
                        {"selection", p.selection},
                        {"logreg", p.model.to_json()}});
  return {{"format", kFormat}, {"version", 1}, {"dim", dim}, {"n_layers", n_layers}, {"model", model},
          {"probes", probes_j}};
}

SafetyClassifier SafetyClassifier::from_json(const json& j, const std::string& what) {
  const Reader r{what};
  if (!j.is_object() || j.value("format", std::string()) != kFormat)
    throw user_error(what, "not a brand-safety classifier (no \"format\": \"%s\"; make one with `tweetlm ads train-safety`)",
                     kFormat);
  if (r.get<int>(j, "version", "classifier") != 1) throw user_error(what, "unsupported version (this tweetlm reads 1)");
  SafetyClassifier sc;
  sc.dim = r.get<int>(j, "dim", "classifier");
  sc.n_layers = r.get<int>(j, "n_layers", "classifier");
  sc.model = j.value("model", std::string());
  const json probes_j = r.get<json>(j, "probes", "classifier");
  if (!probes_j.is_array() || probes_j.empty()) throw user_error(what, "\"probes\" must be a non-empty array");
  for (size_t k = 0; k < probes_j.size(); k++) {
    const json& pj = probes_j[k];
    const std::string where = strprintf("probes[%zu]", k);
    SafetyProbe p;
    p.task = r.get<std::string>(pj, "task", where);
    const json vj = r.get<json>(pj, "variant", where);
    p.variant.name = r.get<std::string>(vj, "name", where + ".variant");
    p.variant.layer = r.get<int>(vj, "layer", where + ".variant");
    const auto pool = r.get<std::vector<std::string>>(vj, "pool", where + ".variant");
    p.variant.mean = std::find(pool.begin(), pool.end(), "mean") != pool.end();
    p.variant.last = std::find(pool.begin(), pool.end(), "last") != pool.end();
    if (p.variant.layer < 1 || p.variant.layer > sc.n_layers || (!p.variant.mean && !p.variant.last))
      throw user_error(what, "%s.variant: layer %d / pool out of range", where.c_str(), p.variant.layer);
    p.l2 = r.get<double>(pj, "l2", where);
    p.threshold = r.get<double>(pj, "threshold", where);
    const json cj = r.get<json>(pj, "calibration", where);
    p.calib_a = r.get<double>(cj, "a", where + ".calibration");
    p.calib_b = r.get<double>(cj, "b", where + ".calibration");
    p.model = LogisticRegression::from_json(r.get<json>(pj, "logreg", where), what + ": " + where + ".logreg");
    const size_t width = size_t(sc.dim) * (p.variant.mean + p.variant.last);
    if (p.model.n_classes() != 2 || p.model.n_features() != width)
      throw user_error(what, "%s.logreg: %d classes x %zu features, expected 2 x %zu", where.c_str(), p.model.n_classes(),
                       p.model.n_features(), width);
    if (pj.contains("scores") && pj["scores"].is_object()) {
      p.val = scores_from(pj["scores"].value("val", json()));
      p.test = scores_from(pj["scores"].value("test", json()));
    }
    p.selection = pj.value("selection", json::array());
    sc.probes.push_back(std::move(p));
  }
  return sc;
}

void SafetyClassifier::save(const std::string& path) const { atomic_write_file(path, to_json().dump(1) + "\n"); }

SafetyClassifier SafetyClassifier::load(const std::string& path) { return from_json(read_json_file(path), path); }

}  // namespace tlm::apps
