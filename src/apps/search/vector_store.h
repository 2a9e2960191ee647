// INDEX_DIR/vectors.hnsw: the dense vectors of a search index in an HNSW graph (hnswlib,
// InnerProductSpace over unit vectors, so 1 - distance is the cosine similarity). Labels are
// the rowids of tweets.db.
//
// hnswlib is included by vector_store.cpp only (its header defines non-inline functions, so a
// second translation unit including it would not link), behind this small interface.
//
// Filtered search: Debian's hnswlib (0.6.2) predates hnswlib's BaseFilterFunctor, so the
// filtered base-layer search is ours, the same algorithm as hnswlib 0.7's: the graph is walked
// as usual but only labels the filter accepts enter the result heap, and the walk goes on until
// ef accepted labels are found (or the graph is exhausted), so k results still come back under
// a narrow filter. When the filter accepts only a few labels, an exact scan of them is faster
// and exact: exact_search, which SearchIndex picks by the filter's count.
//
// Loading validates the file's structure (header fields against the dimension, every list size
// and every neighbour id) before hnswlib reads it: a truncated or overwritten file is one
// UserError naming it, never a wild read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tlm::apps {

struct HnswParams {
  int M = 16;
  int ef_construction = 200;
};

// Label -> accepted. Called from search threads: must be thread-safe for reads.
using LabelFilter = std::function<bool(int64_t label)>;

struct VectorHit {
  int64_t label;
  float score;  // inner product (cosine similarity of unit vectors)
};

class VectorStore {
 public:
  VectorStore(int dim, const HnswParams& params, size_t capacity);
  // UserError(path, ...) when the file is missing, truncated, corrupt, or of another dimension.
  static std::unique_ptr<VectorStore> load(const std::string& path, int dim);
  ~VectorStore();
  VectorStore(const VectorStore&) = delete;
  VectorStore& operator=(const VectorStore&) = delete;

  int dim() const { return dim_; }
  size_t size() const;
  size_t capacity() const;
  HnswParams params() const;
  bool contains(int64_t label) const;
  // Grows the graph's capacity to at least n (amortised: x1.5). Not concurrent with searches.
  void reserve(size_t n);
  // `v` has dim() floats. Not concurrent with searches.
  void add(const float* v, int64_t label);

  // Atomic save, in two steps so a caller can order it with another commit: write_temp writes
  // path + ".tmp" and fsyncs it (UserError when short: disk full); publish renames it over
  // `path` and fsyncs the directory.
  static std::string temp_path(const std::string& path) { return path + ".tmp"; }
  void write_temp(const std::string& path) const;
  static void publish(const std::string& path);

  // The k best labels for unit vector `q`, best first. `ef`: the search breadth (>= k used).
  // Thread-safe with other searches.
  std::vector<VectorHit> search(const float* q, size_t k, size_t ef, const LabelFilter* filter = nullptr) const;
  // Exact: the k best of `labels` (labels not in the store are skipped).
  std::vector<VectorHit> exact_search(const float* q, size_t k, const std::vector<int64_t>& labels) const;

 private:
  VectorStore() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int dim_ = 0;
};

}  // namespace tlm::apps
