// The MPI communicator (see comm.h): host buffers, Open MPI's collectives, every wait bounded by
// the timeout. Builds without MPI (TLM_HAVE_MPI unset) get a make_mpi_comm that refuses clearly.
#include "dist/comm.h"

#ifdef TLM_HAVE_MPI
// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <climits>
#include <thread>
#endif

namespace tlm::dist {

#ifndef TLM_HAVE_MPI

bool have_mpi() { return false; }
std::unique_ptr<Communicator> make_mpi_comm() {
  throw UserError("mpirun", "this tweetlm was built without MPI: install libopenmpi-dev (scripts/setup.sh) and rebuild");
}

#else

namespace {

using clock = std::chrono::steady_clock;

// Collective errors come back as codes (MPI_ERRORS_RETURN), so they can be reported as one line.
#define MPI_CHECK(call)                                                                            \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != MPI_SUCCESS) {                                                                      \
      char msg_[MPI_MAX_ERROR_STRING];                                                             \
      int len_ = 0;                                                                                \
      MPI_Error_string(rc_, msg_, &len_);                                                          \
      throw UserError("mpi", strprintf("rank %d: %s failed: %.*s", rank_, #call, len_, msg_));    \
    }                                                                                              \
  } while (0)

constexpr int kPing = 1, kPong = 2;
// How long a rank that timed out waits for the answers to its pings.
constexpr double kPingWindow = 5.0;
// MPI counts are ints: the largest piece one call moves.
constexpr size_t kMaxCount = size_t(1) << 30;

int as_count(size_t n) {
  TLM_CHECK(n <= size_t(INT_MAX), "%zu elements in one MPI call", n);
  return int(n);
}

class MpiComm final : public Communicator {
 public:
  MpiComm() {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      // MPI_Init_thread's own failure aborts inside MPI; there is no code to check.
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      finalize_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &ping_comm_));
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(ping_comm_, MPI_ERRORS_RETURN);
  }
  ~MpiComm() override {
    if (!finalize_) return;
    if (!pending_.empty()) return;  // an exception left collectives in flight: abort() follows
    MPI_Comm_free(&ping_comm_);
    MPI_Comm_free(&comm_);
    MPI_Finalize();
  }

  const char* backend() const override { return "mpi"; }

  void all_reduce_sum(float* data, size_t n) override { all_reduce(data, n, MPI_FLOAT, sizeof(float)); }
  void all_reduce_sum(double* data, size_t n) override { all_reduce(data, n, MPI_DOUBLE, sizeof(double)); }

  void reduce_scatter_sum(const float* in, float* out, const std::vector<size_t>& counts) override {
    std::vector<int> c = int_counts(counts);
    MPI_Request r;
    MPI_CHECK(MPI_Ireduce_scatter(in, out, c.data(), MPI_FLOAT, MPI_SUM, comm_, &r));
    wait(&r, 1, "reduce-scatter");
  }
  void all_gather(float* data, const std::vector<size_t>& counts) override {
    std::vector<int> c = int_counts(counts), displs = displacements(c);
    MPI_Request r;
    MPI_CHECK(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, data, c.data(), displs.data(), MPI_FLOAT, comm_, &r));
    wait(&r, 1, "all-gather");
  }
  void gather(const float* part, float* full, const std::vector<size_t>& counts, int root) override {
    std::vector<int> c = int_counts(counts), displs = displacements(c);
    MPI_Request r;
    MPI_CHECK(MPI_Igatherv(part, c[size_t(rank_)], MPI_FLOAT, full, c.data(), displs.data(), MPI_FLOAT, root, comm_, &r));
    wait(&r, 1, "gather");
  }
  void broadcast(void* data, size_t bytes, int root) override {
    MPI_Request r;
    MPI_CHECK(MPI_Ibcast(data, as_count(bytes), MPI_BYTE, root, comm_, &r));
    wait(&r, 1, "broadcast");
  }
  void barrier() override {
    MPI_Request r;
    MPI_CHECK(MPI_Ibarrier(comm_, &r));
    wait(&r, 1, "barrier");
  }

  void start_all_reduce_sum(float* data, size_t n) override {
    for (size_t off = 0; off < n; off += kMaxCount) {
      pending_.emplace_back();
      MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data + off, int(std::min(kMaxCount, n - off)), MPI_FLOAT, MPI_SUM, comm_,
                               &pending_.back()));
    }
  }
  void progress() override {
    if (pending_.empty()) return;
    int done = 0;
    MPI_CHECK(MPI_Testall(int(pending_.size()), pending_.data(), &done, MPI_STATUSES_IGNORE));
    answer_pings();
  }
  void wait_all() override {
    if (pending_.empty()) return;
    wait(pending_.data(), int(pending_.size()), "gradient all-reduce");
    pending_.clear();
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  void all_reduce(void* data, size_t n, MPI_Datatype type, size_t elem) {
    std::vector<MPI_Request> reqs;
    for (size_t off = 0; off < n; off += kMaxCount) {
      reqs.emplace_back();
      MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, static_cast<char*>(data) + off * elem, int(std::min(kMaxCount, n - off)),
                               type, MPI_SUM, comm_, &reqs.back()));
    }
    wait(reqs.data(), int(reqs.size()), "all-reduce");
  }

  std::vector<int> int_counts(const std::vector<size_t>& counts) const {
    TLM_CHECK(counts.size() == size_t(size_), "%zu counts for %d ranks", counts.size(), size_);
    std::vector<int> c;
    for (size_t x : counts) c.push_back(as_count(x));
    return c;
  }
  static std::vector<int> displacements(const std::vector<int>& c) {
    std::vector<int> d(c.size());
    long sum = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      TLM_CHECK(sum <= INT_MAX, "displacement %ld does not fit an MPI int", sum);
      d[i] = int(sum);
      sum += c[i];
    }
    return d;
  }

  // Polls until the requests complete, answering pings. MPI moves a large message forward only
  // inside MPI calls, so for the first half second the loop polls back to back (yielding the
  // core to any thread that wants it); after that it is waiting for a slow or lost peer and
  // sleeps between polls, so it does not burn the core that peer may need.
  void wait(MPI_Request* reqs, int n, const char* what) {
    const auto start = clock::now();
    for (long polls = 0;; ++polls) {
      int done = 0;
      MPI_CHECK(MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE));
      if (done) return;
      if (polls % 64 == 0) answer_pings();
      const double waited = std::chrono::duration<double>(clock::now() - start).count();
      if (waited > timeout_) on_timeout(what);
      if (waited < 0.5)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  void answer_pings() {
    for (;;) {
      int flag = 0;
      MPI_Status st;
      if (MPI_Iprobe(MPI_ANY_SOURCE, kPing, ping_comm_, &flag, &st) != MPI_SUCCESS || !flag) return;
      int token = 0;
      MPI_Recv(&token, 1, MPI_INT, st.MPI_SOURCE, kPing, ping_comm_, MPI_STATUS_IGNORE);
      MPI_Send(&rank_, 1, MPI_INT, st.MPI_SOURCE, kPong, ping_comm_);  // tiny: sent eagerly
    }
  }

  // Pings `targets`, answering pings meanwhile, for `seconds`; returns who answered.
  std::vector<char> ping(const std::vector<int>& targets, double seconds) {
    std::vector<char> answered(size_t(size_), 0);
    for (int t : targets) {
      MPI_Request r;
      if (MPI_Isend(&rank_, 1, MPI_INT, t, kPing, ping_comm_, &r) == MPI_SUCCESS) MPI_Request_free(&r);
    }
    const auto start = clock::now();
    size_t got = 0;
    while (got < targets.size() && std::chrono::duration<double>(clock::now() - start).count() < seconds) {
      int flag = 0;
      MPI_Status st;
      if (MPI_Iprobe(MPI_ANY_SOURCE, kPong, ping_comm_, &flag, &st) == MPI_SUCCESS && flag) {
        int who = -1;
        MPI_Recv(&who, 1, MPI_INT, st.MPI_SOURCE, kPong, ping_comm_, MPI_STATUS_IGNORE);
        if (!answered[size_t(st.MPI_SOURCE)]) ++got;
        answered[size_t(st.MPI_SOURCE)] = 1;
        continue;
      }
      answer_pings();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return answered;
  }

  [[noreturn]] void on_timeout(const char* what) {
    std::string head = strprintf("rank %d: %s timed out after %g s (--comm-timeout)", rank_, what, timeout_);
    if (rank_ == 0) {
      std::vector<int> others;
      for (int r = 1; r < size_; ++r) others.push_back(r);
      std::vector<char> answered = ping(others, kPingWindow);
      std::string silent;
      int n_silent = 0;
      for (int r : others)
        if (!answered[size_t(r)]) {
          if (n_silent < 16) silent += (silent.empty() ? "" : ", ") + std::to_string(r);
          ++n_silent;
        }
      if (n_silent > 16) silent += strprintf(" and %d more", n_silent - 16);
      if (n_silent == 0)
        throw CommTimeout("training", head + ": every rank answers but the collective did not complete");
      throw CommTimeout("training", head + strprintf(": rank%s %s did not answer (dead or hung); ending the job",
                                                     n_silent > 1 ? "s" : "", silent.c_str()));
    }
    std::vector<char> answered = ping({0}, kPingWindow);
    if (!answered[0]) throw CommTimeout("training", head + ": rank 0 did not answer (dead or hung); ending the job");
    // Rank 0 is alive and is naming the silent ranks: give it time to say so and end the job.
    ping({}, kPingWindow + 5.0);
    throw CommTimeout("training", head + ": waiting for another rank (rank 0 names it); ending the job");
  }

  MPI_Comm comm_ = MPI_COMM_NULL, ping_comm_ = MPI_COMM_NULL;
  std::vector<MPI_Request> pending_;
  bool finalize_ = false;
};

}  // namespace

bool have_mpi() { return true; }
std::unique_ptr<Communicator> make_mpi_comm() { return std::make_unique<MpiComm>(); }

#endif

}  // namespace tlm::dist
