// The HNSW vector store (see vector_store.h); the one file that includes hnswlib.
#include "apps/search/vector_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <queue>
#include <unordered_map>

#include <hnswlib/hnswlib.h>

#include "core/check.h"
#include "core/file.h"

namespace tlm::apps {

using hnswlib::labeltype;
using hnswlib::linklistsizeint;
using hnswlib::tableint;

struct VectorStore::Impl {
  explicit Impl(int dim) : space(size_t(dim)) {}
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> alg;
};

namespace {

// The fixed header hnswlib 0.6 writes (saveIndex), field by field.
struct HnswHeader {
  uint64_t offset_level0, max_elements, count, size_per_element, label_offset, offset_data;
  int32_t max_level;
  uint32_t enter_point;
  uint64_t max_m, max_m0, m;
  double mult;
  uint64_t ef_construction;
};
constexpr size_t kHeaderBytes = 6 * 8 + 4 + 4 + 3 * 8 + 8 + 8;

template <typename T>
T get(const char* p, size_t& off) {
  T v;
  std::memcpy(&v, p + off, sizeof v);
  off += sizeof v;
  return v;
}

// Checks everything hnswlib's loadIndex and search trust in the file; throws UserError(path).
uint64_t validate_file(const std::string& path, int dim) {
  MappedFile f(path);
  const char* p = f.data();
  const size_t size = f.size();
  auto bad = [&](const char* what) { return user_error(path, "corrupt or truncated vector index (%s)", what); };
  if (size < kHeaderBytes) throw bad("shorter than its header");
  size_t off = 0;
  HnswHeader h;
  h.offset_level0 = get<uint64_t>(p, off);
  h.max_elements = get<uint64_t>(p, off);
  h.count = get<uint64_t>(p, off);
  h.size_per_element = get<uint64_t>(p, off);
  h.label_offset = get<uint64_t>(p, off);
  h.offset_data = get<uint64_t>(p, off);
  h.max_level = get<int32_t>(p, off);
  h.enter_point = get<uint32_t>(p, off);
  h.max_m = get<uint64_t>(p, off);
  h.max_m0 = get<uint64_t>(p, off);
  h.m = get<uint64_t>(p, off);
  h.mult = get<double>(p, off);
  h.ef_construction = get<uint64_t>(p, off);
  if (h.offset_level0 != 0 || h.m < 2 || h.m > 4096 || h.max_m != h.m || h.max_m0 != 2 * h.m) throw bad("header");
  const uint64_t links0 = h.max_m0 * sizeof(tableint) + sizeof(linklistsizeint);
  if (h.offset_data != links0) throw bad("header");
  if (h.label_offset < h.offset_data || (h.label_offset - h.offset_data) % sizeof(float)) throw bad("header");
  const uint64_t file_dim = (h.label_offset - h.offset_data) / sizeof(float);
  if (file_dim != uint64_t(dim))
    throw user_error(path, "holds vectors of dimension %llu, but the index is of dimension %d",
                     static_cast<unsigned long long>(file_dim), dim);
  if (h.size_per_element != h.label_offset + sizeof(labeltype)) throw bad("header");
  if (!std::isfinite(h.mult) || h.mult <= 0 || h.max_level < -1 || h.max_level > 64) throw bad("header");
  if (h.count > (size - kHeaderBytes) / h.size_per_element) throw bad("fewer vectors than its header says");
  if (h.max_elements < h.count) throw bad("header");
  if (h.count == 0 ? h.max_level != -1 : (h.enter_point >= h.count || h.max_level < 0)) throw bad("entry point");
  const uint64_t links = h.max_m * sizeof(tableint) + sizeof(linklistsizeint);
  // Level of every element from the upper-layer blocks, then every list checked.
  std::vector<int> levels(h.count);
  std::vector<size_t> upper(h.count);
  off = kHeaderBytes + h.count * h.size_per_element;
  for (uint64_t i = 0; i < h.count; i++) {
    if (size - off < 4) throw bad("truncated link lists");
    uint32_t bytes = get<uint32_t>(p, off);
    if (bytes % links || bytes / links > uint64_t(h.max_level) || size - off < bytes) throw bad("link list size");
    levels[i] = int(bytes / links);
    upper[i] = off;
    off += bytes;
  }
  if (off != size) throw bad("trailing bytes");
  if (h.count && levels[h.enter_point] != h.max_level) throw bad("entry point level");
  auto check_list = [&](const char* list, uint64_t max_count, int level) {
    uint16_t n;
    std::memcpy(&n, list, sizeof n);
    if (n > max_count) throw bad("neighbour count");
    for (uint16_t j = 0; j < n; j++) {
      uint32_t nb;
      std::memcpy(&nb, list + sizeof(linklistsizeint) + j * sizeof(tableint), sizeof nb);
      if (nb >= h.count || levels[nb] < level) throw bad("neighbour id");
    }
  };
  for (uint64_t i = 0; i < h.count; i++) {
    check_list(p + kHeaderBytes + i * h.size_per_element, h.max_m0, 0);
    for (int l = 1; l <= levels[i]; l++) check_list(p + upper[i] + size_t(l - 1) * links, h.max_m, l);
  }
  return h.count;
}

}  // namespace

VectorStore::VectorStore(int dim, const HnswParams& params, size_t capacity) : impl_(std::make_unique<Impl>(dim)), dim_(dim) {
  TLM_CHECK(dim > 0, "dimension %d", dim);
  if (params.M < 2 || params.M > 4096) throw user_error("--hnsw-m", "must be in 2..4096 (got %d)", params.M);
  if (params.ef_construction < 1) throw user_error("--ef-construction", "must be at least 1 (got %d)", params.ef_construction);
  impl_->alg = std::make_unique<hnswlib::HierarchicalNSW<float>>(&impl_->space, std::max<size_t>(capacity, 1),
                                                                  size_t(params.M), size_t(params.ef_construction));
}

std::unique_ptr<VectorStore> VectorStore::load(const std::string& path, int dim) {
  if (!path_exists(path)) throw user_error(path, "no such file (the vector index of this search index is missing)");
  const uint64_t count = validate_file(path, dim);
  std::unique_ptr<VectorStore> s(new VectorStore());
  s->dim_ = dim;
  s->impl_ = std::make_unique<Impl>(dim);
  s->impl_->alg = std::make_unique<hnswlib::HierarchicalNSW<float>>(&s->impl_->space);
  // hnswlib's loading constructor leaves the counters to loadIndex, which only adds to this one.
  s->impl_->alg->num_deleted_ = 0;
  try {
    // Capacity = the count (never the header's capacity, which a damaged file could make huge):
    // reserve() grows it when tweets are added.
    s->impl_->alg->loadIndex(path, &s->impl_->space, size_t(count));
  } catch (const std::runtime_error& e) {
    // A half-loaded graph has uninitialised pointers its destructor would free: leak it instead
    // (this only happens when the file changes between validation and loading).
    (void)s->impl_->alg.release();
    throw user_error(path, "cannot load the vector index: %s", e.what());
  }
  if (s->impl_->alg->label_lookup_.size() != s->impl_->alg->cur_element_count)
    throw user_error(path, "corrupt vector index (repeated labels)");
  return s;
}

VectorStore::~VectorStore() = default;

size_t VectorStore::size() const { return impl_->alg->cur_element_count; }
size_t VectorStore::capacity() const { return impl_->alg->max_elements_; }
HnswParams VectorStore::params() const { return {int(impl_->alg->M_), int(impl_->alg->ef_construction_)}; }
bool VectorStore::contains(int64_t label) const { return impl_->alg->label_lookup_.count(labeltype(label)) > 0; }

void VectorStore::reserve(size_t n) {
  auto& a = *impl_->alg;
  if (n <= a.max_elements_) return;
  a.resizeIndex(std::max(n, a.max_elements_ + a.max_elements_ / 2));
}

void VectorStore::add(const float* v, int64_t label) {
  reserve(size() + 1);
  impl_->alg->addPoint(v, labeltype(label));
}

void VectorStore::write_temp(const std::string& path) const {
  const std::string tmp = temp_path(path);
  auto& a = *impl_->alg;  // saveIndex is not const, but only reads
  a.saveIndex(tmp);
  // saveIndex writes through an unchecked ofstream: the size tells whether all of it arrived.
  uint64_t expect = kHeaderBytes + a.cur_element_count * a.size_data_per_element_;
  for (size_t i = 0; i < a.cur_element_count; i++)
    expect += 4 + (a.element_levels_[i] > 0 ? a.size_links_per_element_ * size_t(a.element_levels_[i]) : 0);
  int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd < 0) throw user_error(tmp, "cannot write the vector index");
  off_t got = ::lseek(fd, 0, SEEK_END);
  int rc = ::fsync(fd);
  ::close(fd);
  if (got != off_t(expect) || rc != 0) {
    std::remove(tmp.c_str());
    throw user_error(tmp, "could not write the whole vector index (%lld of %llu bytes; disk full?)",
                     static_cast<long long>(got), static_cast<unsigned long long>(expect));
  }
}

void VectorStore::publish(const std::string& path) {
  const std::string tmp = temp_path(path);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw user_error(path, "cannot rename %s over it", tmp.c_str());
  size_t slash = path.rfind('/');
  fsync_dir(slash == std::string::npos ? "." : path.substr(0, slash));
}

std::vector<VectorHit> VectorStore::search(const float* q, size_t k, size_t ef, const LabelFilter* filter) const {
  const auto& a = *impl_->alg;
  std::vector<VectorHit> out;
  if (a.cur_element_count == 0 || k == 0) return out;
  ef = std::max(ef, k);
  // A NaN (a damaged vector, or a NaN query) is the farthest distance: heaps and sorts need an order.
  auto dist = [&](tableint id) {
    const float d = a.fstdistfunc_(q, a.getDataByInternalId(id), a.dist_func_param_);
    return d == d ? d : std::numeric_limits<float>::infinity();
  };
  // Greedy descent through the upper layers, as hnswlib's searchKnn.
  tableint cur = a.enterpoint_node_;
  float cur_d = dist(cur);
  for (int level = a.maxlevel_; level > 0; level--) {
    for (bool changed = true; changed;) {
      changed = false;
      const linklistsizeint* ll = a.get_linklist(cur, level);
      const int n = a.getListCount(const_cast<linklistsizeint*>(ll));
      const tableint* nb = reinterpret_cast<const tableint*>(ll + 1);
      for (int i = 0; i < n; i++) {
        float d = dist(nb[i]);
        if (d < cur_d) cur_d = d, cur = nb[i], changed = true;
      }
    }
  }
  // Base layer: hnswlib 0.7's filtered searchBaseLayerST.
  auto accept = [&](tableint id) { return !filter || (*filter)(int64_t(a.getExternalLabel(id))); };
  hnswlib::VisitedList* vl = a.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = vl->mass;
  const hnswlib::vl_type tag = vl->curV;
  using P = std::pair<float, tableint>;
  std::priority_queue<P> top;                                         // accepted, worst on top
  std::priority_queue<P, std::vector<P>, std::greater<P>> candidates;  // to expand, nearest on top
  candidates.emplace(cur_d, cur);
  visited[cur] = tag;
  if (accept(cur)) top.emplace(cur_d, cur);
  float lower = top.empty() ? std::numeric_limits<float>::max() : top.top().first;
  while (!candidates.empty()) {
    auto [cd, cid] = candidates.top();
    if (cd > lower && top.size() >= ef) break;
    candidates.pop();
    const linklistsizeint* ll = a.get_linklist0(cid);
    const int n = a.getListCount(const_cast<linklistsizeint*>(ll));
    const tableint* nb = reinterpret_cast<const tableint*>(ll + 1);
    for (int j = 0; j < n; j++) {
      const tableint id = nb[j];
      if (visited[id] == tag) continue;
      visited[id] = tag;
      const float d = dist(id);
      if (top.size() < ef || d < lower) {
        candidates.emplace(d, id);
        if (accept(id)) {
          top.emplace(d, id);
          if (top.size() > ef) top.pop();
        }
        if (!top.empty()) lower = top.top().first;
      }
    }
  }
  a.visited_list_pool_->releaseVisitedList(vl);
  while (top.size() > k) top.pop();
  out.resize(top.size());
  for (size_t i = out.size(); i-- > 0; top.pop())
    out[i] = {int64_t(a.getExternalLabel(top.top().second)), 1.0f - top.top().first};
  return out;
}

std::vector<VectorHit> VectorStore::exact_search(const float* q, size_t k, const std::vector<int64_t>& labels) const {
  const auto& a = *impl_->alg;
  std::vector<VectorHit> all;
  all.reserve(labels.size());
  for (int64_t l : labels) {
    auto it = a.label_lookup_.find(labeltype(l));
    if (it == a.label_lookup_.end()) continue;
    const float score = 1.0f - a.fstdistfunc_(q, a.getDataByInternalId(it->second), a.dist_func_param_);
    all.push_back({l, score == score ? score : -std::numeric_limits<float>::infinity()});
  }
  auto better = [](const VectorHit& x, const VectorHit& y) { return x.score != y.score ? x.score > y.score : x.label < y.label; };
  if (all.size() > k) {
    std::partial_sort(all.begin(), all.begin() + std::ptrdiff_t(k), all.end(), better);
    all.resize(k);
  } else {
    std::sort(all.begin(), all.end(), better);
  }
  return all;
}

}  // namespace tlm::apps
