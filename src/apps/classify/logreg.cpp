// Multinomial logistic regression trained by L-BFGS (see logreg.h). The objective and gradient
// are computed in one pass: logits Z = X W + b (sgemm for dense rows, a CSR loop for sparse
// ones), softmax, weighted cross-entropy, then G = X^T (P - Y) with the same kernels.
#include "apps/classify/logreg.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>

#include "core/check.h"
#include "core/file.h"
#include "core/json.h"

namespace tlm::apps {

FeatureMatrix FeatureMatrix::from_rows(const std::vector<std::vector<float>>& rows) {
  FeatureMatrix m;
  m.rows = rows.size();
  m.cols = rows.empty() ? 0 : rows[0].size();
  m.dense.resize(m.rows * m.cols);
  for (size_t i = 0; i < m.rows; i++) {
    TLM_CHECK(rows[i].size() == m.cols, "feature row %zu has %zu values, not %zu", i, rows[i].size(), m.cols);
    std::copy(rows[i].begin(), rows[i].end(), m.dense.begin() + i * m.cols);
  }
  return m;
}

FeatureMatrix FeatureMatrix::select_rows(const std::vector<size_t>& which) const {
  FeatureMatrix m;
  m.rows = which.size(), m.cols = cols, m.sparse = sparse;
  if (!sparse) {
    m.dense.resize(m.rows * cols);
    for (size_t k = 0; k < which.size(); k++) std::copy(row(which[k]), row(which[k]) + cols, m.dense.begin() + k * cols);
    return m;
  }
  m.indptr.push_back(0);
  for (size_t i : which) {
    m.indices.insert(m.indices.end(), indices.begin() + long(indptr[i]), indices.begin() + long(indptr[i + 1]));
    m.values.insert(m.values.end(), values.begin() + long(indptr[i]), values.begin() + long(indptr[i + 1]));
    m.indptr.push_back(m.values.size());
  }
  return m;
}

namespace {

// Z[n, K] = X W + b, where X is dense (already standardised) or sparse.
void logits(const FeatureMatrix& X, const float* dense, const float* W, const float* b, int K, float* Z) {
  const size_t n = X.rows, D = X.cols;
  for (size_t i = 0; i < n; i++) std::copy(b, b + K, Z + i * K);
  if (n == 0) return;
  if (!X.sparse) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), K, int(D), 1.0f, dense, int(D), W, K, 1.0f, Z, K);
    return;
  }
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float* z = Z + i * K;
    for (uint64_t p = X.indptr[i]; p < X.indptr[i + 1]; p++) {
      const float v = X.values[p];
      const float* w = W + size_t(X.indices[p]) * K;
      for (int k = 0; k < K; k++) z[k] += v * w[k];
    }
  }
}

// G[D, K] = X^T R (R: [n, K] residuals, already weighted).
void gradient_w(const FeatureMatrix& X, const float* dense, const float* R, int K, float* G) {
  const size_t n = X.rows, D = X.cols;
  std::fill(G, G + D * K, 0.0f);
  if (n == 0) return;
  if (!X.sparse) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(D), K, int(n), 1.0f, dense, int(D), R, K, 0.0f, G, K);
    return;
  }
  for (size_t i = 0; i < n; i++) {  // serial: rows scatter into shared columns
    const float* r = R + i * K;
    for (uint64_t p = X.indptr[i]; p < X.indptr[i + 1]; p++) {
      const float v = X.values[p];
      float* g = G + size_t(X.indices[p]) * K;
      for (int k = 0; k < K; k++) g[k] += v * r[k];
    }
  }
}

// Softmax of each row of Z in place; returns the sum of w_i * -log p(y_i) and turns Z into the
// weighted residuals w_i * (p - onehot(y_i)).
double softmax_loss(float* Z, size_t n, int K, const std::vector<int>& y, const std::vector<float>& w) {
  double loss = 0;
#pragma omp parallel for reduction(+ : loss) schedule(static)
  for (size_t i = 0; i < n; i++) {
    float* z = Z + i * K;
    const float mx = *std::max_element(z, z + K);
    double sum = 0;
    for (int k = 0; k < K; k++) sum += std::exp(double(z[k]) - mx);
    const double lse = mx + std::log(sum);
    loss += double(w[i]) * (lse - double(z[y[i]]));
    for (int k = 0; k < K; k++) z[k] = float(std::exp(double(z[k]) - lse));
    z[y[i]] -= 1.0f;
    for (int k = 0; k < K; k++) z[k] *= w[i];
  }
  return loss;
}

}  // namespace

LogisticRegression LogisticRegression::train(const FeatureMatrix& X, const std::vector<int>& y, int n_classes,
                                             const LogRegOptions& opt) {
  if (X.rows == 0) throw user_error("classifier", "no training rows");
  if (y.size() != X.rows) throw user_error("classifier", "%zu labels for %zu rows", y.size(), X.rows);
  if (n_classes < 2) throw user_error("classifier", "%d classes (need at least 2)", n_classes);
  for (int v : y)
    if (v < 0 || v >= n_classes) throw user_error("classifier", "label %d is not in [0, %d)", v, n_classes);
  LogisticRegression m;
  const int K = m.K_ = n_classes;
  const size_t n = X.rows, D = m.D_ = X.cols;

  // Standardise dense features with the training statistics (constant columns keep scale 1).
  std::vector<float> Xs;
  if (!X.sparse && opt.standardize) {
    m.mean_.assign(D, 0.0f), m.scale_.assign(D, 1.0f);
    std::vector<double> s1(D, 0), s2(D, 0);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < D; j++) s1[j] += X.dense[i * D + j], s2[j] += double(X.dense[i * D + j]) * X.dense[i * D + j];
    for (size_t j = 0; j < D; j++) {
      const double mu = s1[j] / double(n), var = std::max(s2[j] / double(n) - mu * mu, 0.0);
      m.mean_[j] = float(mu);
      m.scale_[j] = var > 1e-12 ? float(1.0 / std::sqrt(var)) : 1.0f;
    }
    Xs.resize(n * D);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < D; j++) Xs[i * D + j] = (X.dense[i * D + j] - m.mean_[j]) * m.scale_[j];
  }
  const float* dense = X.sparse ? nullptr : (Xs.empty() ? X.dense.data() : Xs.data());

  // Row weights: balanced class weights, normalised so the loss is a weighted mean.
  std::vector<double> count(size_t(K), 0);
  for (int v : y) count[size_t(v)]++;
  std::vector<float> w(n, 1.0f);
  if (opt.balanced)
    for (size_t i = 0; i < n; i++) w[i] = float(double(n) / (double(K) * count[size_t(y[i])]));
  const double wsum = std::accumulate(w.begin(), w.end(), 0.0);
  for (float& v : w) v = float(v / wsum);

  // theta = [W (D x K), b (K)]
  const size_t P = D * size_t(K) + size_t(K);
  std::vector<float> Z(n * size_t(K)), G32(D * size_t(K));
  auto objective = [&](const std::vector<double>& th, std::vector<double>& g) {
    std::vector<float> W(th.begin(), th.begin() + long(D * K)), b(th.begin() + long(D * K), th.end());
    logits(X, dense, W.data(), b.data(), K, Z.data());
    double f = softmax_loss(Z.data(), n, K, y, w);
    gradient_w(X, dense, Z.data(), K, G32.data());
    g.assign(P, 0.0);
    for (size_t j = 0; j < D * size_t(K); j++) {
      g[j] = double(G32[j]) + opt.l2 * th[j];
      f += 0.5 * opt.l2 * th[j] * th[j];
    }
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < K; k++) g[D * K + size_t(k)] += Z[i * K + size_t(k)];
    return f;
  };

  // L-BFGS (memory 10) with a backtracking Armijo line search.
  std::vector<double> th(P, 0.0), g, g_new, th_new(P), dir(P);
  double f = objective(th, g);
  std::deque<std::vector<double>> S, Yv;
  std::deque<double> rho;
  int it = 0;
  for (; it < opt.max_iter; it++) {
    double gmax = 0;
    for (double v : g) gmax = std::max(gmax, std::fabs(v));
    if (gmax < opt.tol) break;
    // two-loop recursion: dir = -H g
    dir = g;
    std::vector<double> alpha(S.size());
    for (size_t j = S.size(); j-- > 0;) {
      alpha[j] = rho[j] * std::inner_product(S[j].begin(), S[j].end(), dir.begin(), 0.0);
      for (size_t p = 0; p < P; p++) dir[p] -= alpha[j] * Yv[j][p];
    }
    double gamma = 1.0;
    if (!S.empty()) {
      gamma = std::inner_product(S.back().begin(), S.back().end(), Yv.back().begin(), 0.0) /
              std::inner_product(Yv.back().begin(), Yv.back().end(), Yv.back().begin(), 0.0);
    } else {
      double gn = std::sqrt(std::inner_product(g.begin(), g.end(), g.begin(), 0.0));
      gamma = gn > 0 ? 1.0 / gn : 1.0;
    }
    for (double& v : dir) v *= gamma;
    for (size_t j = 0; j < S.size(); j++) {
      const double beta = rho[j] * std::inner_product(Yv[j].begin(), Yv[j].end(), dir.begin(), 0.0);
      for (size_t p = 0; p < P; p++) dir[p] += S[j][p] * (alpha[j] - beta);
    }
    for (double& v : dir) v = -v;
    double slope = std::inner_product(g.begin(), g.end(), dir.begin(), 0.0);
    if (slope >= 0) {  // not a descent direction (numerical trouble): restart from the gradient
      S.clear(), Yv.clear(), rho.clear();
      for (size_t p = 0; p < P; p++) dir[p] = -g[p];
      slope = -std::inner_product(g.begin(), g.end(), g.begin(), 0.0);
    }
    double step = 1.0, f_new = 0;
    bool accepted = false;
    for (int ls = 0; ls < 40; ls++, step *= 0.5) {
      for (size_t p = 0; p < P; p++) th_new[p] = th[p] + step * dir[p];
      f_new = objective(th_new, g_new);
      if (std::isfinite(f_new) && f_new <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;  // no decrease possible at float precision: at the optimum
    std::vector<double> s(P), yy(P);
    for (size_t p = 0; p < P; p++) s[p] = th_new[p] - th[p], yy[p] = g_new[p] - g[p];
    const double sy = std::inner_product(s.begin(), s.end(), yy.begin(), 0.0);
    if (sy > 1e-12) {
      S.push_back(std::move(s)), Yv.push_back(std::move(yy)), rho.push_back(1.0 / sy);
      if (S.size() > 10) S.pop_front(), Yv.pop_front(), rho.pop_front();
    }
    const double rel = std::fabs(f - f_new) / std::max({std::fabs(f), std::fabs(f_new), 1.0});
    th.swap(th_new), g.swap(g_new), f = f_new;
    if (rel < 1e-10) {
      it++;
      break;
    }
  }
  m.W_.assign(th.begin(), th.begin() + long(D * K));
  m.b_.assign(th.begin() + long(D * K), th.end());
  m.loss_ = f;
  m.iters_ = it;
  return m;
}

std::vector<float> LogisticRegression::predict_proba(const FeatureMatrix& X) const {
  TLM_CHECK(X.cols == D_, "classifier: rows of %zu features, trained on %zu", X.cols, D_);
  const size_t n = X.rows;
  std::vector<float> Xs;
  const float* dense = X.sparse ? nullptr : X.dense.data();
  if (!X.sparse && !mean_.empty()) {
    Xs.resize(n * D_);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < D_; j++) Xs[i * D_ + j] = (X.dense[i * D_ + j] - mean_[j]) * scale_[j];
    dense = Xs.data();
  }
  std::vector<float> Z(n * size_t(K_));
  logits(X, dense, W_.data(), b_.data(), K_, Z.data());
  for (size_t i = 0; i < n; i++) {
    float* z = Z.data() + i * K_;
    const float mx = *std::max_element(z, z + K_);
    double sum = 0;
    for (int k = 0; k < K_; k++) sum += std::exp(double(z[k]) - mx);
    for (int k = 0; k < K_; k++) z[k] = float(std::exp(double(z[k]) - mx) / sum);
  }
  return Z;
}

std::vector<int> LogisticRegression::predict(const FeatureMatrix& X) const {
  const std::vector<float> P = predict_proba(X);
  std::vector<int> out(X.rows);
  for (size_t i = 0; i < X.rows; i++)
    out[i] = int(std::max_element(P.begin() + long(i * K_), P.begin() + long((i + 1) * K_)) - (P.begin() + long(i * K_)));
  return out;
}

nlohmann::json LogisticRegression::to_json() const {
  return {{"type", "logistic_regression"}, {"classes", K_}, {"features", D_}, {"weights", W_},
          {"bias", b_}, {"mean", mean_}, {"scale", scale_}, {"loss", loss_}, {"iterations", iters_}};
}

LogisticRegression LogisticRegression::from_json(const nlohmann::json& j, const std::string& what) {
  LogisticRegression m;
  try {
    if (!j.is_object() || j.value("type", "") != "logistic_regression")
      throw user_error(what, "is not a logistic regression (no \"type\": \"logistic_regression\")");
    m.K_ = j.at("classes").get<int>();
    m.D_ = j.at("features").get<size_t>();
    m.W_ = j.at("weights").get<std::vector<float>>();
    m.b_ = j.at("bias").get<std::vector<float>>();
    m.mean_ = j.value("mean", std::vector<float>{});
    m.scale_ = j.value("scale", std::vector<float>{});
    m.loss_ = j.value("loss", 0.0);
    m.iters_ = j.value("iterations", 0);
  } catch (const nlohmann::json::exception& e) {
    throw user_error(what, "malformed classifier: %s", e.what());
  }
  if (m.K_ < 2 || m.D_ == 0 || m.W_.size() != m.D_ * size_t(m.K_) || m.b_.size() != size_t(m.K_) ||
      (!m.mean_.empty() && (m.mean_.size() != m.D_ || m.scale_.size() != m.D_)))
    throw user_error(what, "malformed classifier: sizes do not agree (%d classes, %zu features)", m.K_, m.D_);
  return m;
}

void LogisticRegression::save(const std::string& path) const { atomic_write_file(path, to_json().dump()); }

LogisticRegression LogisticRegression::load(const std::string& path) { return from_json(read_json_file(path), path); }

}  // namespace tlm::apps
