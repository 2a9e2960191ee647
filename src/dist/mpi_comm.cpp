// The MPI communicator (see comm.h): host buffers and Open MPI's collectives, with timeouts.
//
// Design (measured, bench/bench_dist): Open MPI's blocking collectives (the "tuned" algorithms)
// move data 2-3x faster than its non-blocking ones (libnbc), so every collective here is the
// blocking call, and the timeout comes from a watchdog instead of polling:
//  - the service thread answers "are you alive?" pings on a separate communicator all the time,
//    with how many collectives its rank has entered, and watches the deadline each blocking
//    call arms; when one passes, it names the culprits (rank 0 pings all: a rank that does not
//    answer is dead or stopped, one that answers with a smaller count never reached the
//    collective: stuck computing or in I/O; the other ranks ask rank 0 and leave the naming to
//    it), prints one line and ends the job with MPI_Abort (the caller is stuck inside MPI and
//    cannot be unwound);
//  - gradient buckets (start_all_reduce_sum) go to a worker thread that all-reduces them in the
//    order given, while the caller's backward goes on computing: real overlap, since the worker
//    drives its collective itself (Open MPI has no progress thread of its own).
// This needs MPI_THREAD_MULTIPLE (Open MPI, MPICH and Intel MPI provide it).
// Builds without MPI (TLM_HAVE_MPI unset) get a make_mpi_comm that refuses clearly.
#include "dist/comm.h"

#ifdef TLM_HAVE_MPI
// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
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
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      // MPI_Init_thread's own failure aborts inside MPI; there is no code to check.
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
      finalize_ = true;
    } else {
      MPI_Query_thread(&provided);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    if (provided < MPI_THREAD_MULTIPLE)
      throw UserError("mpi", "the MPI library does not provide MPI_THREAD_MULTIPLE (tweetlm's collective timeouts "
                             "need it; Open MPI and MPICH do)");
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &ping_comm_));
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(ping_comm_, MPI_ERRORS_RETURN);
    service_ = std::thread([this] { service_loop(); });
    worker_ = std::thread([this] { worker_loop(); });
  }
  ~MpiComm() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
    service_.join();
    if (!finalize_) return;
    MPI_Comm_free(&ping_comm_);
    MPI_Comm_free(&comm_);
    MPI_Finalize();
  }

  const char* backend() const override { return "mpi"; }

  void all_reduce_sum(float* data, size_t n) override { all_reduce(data, n, MPI_FLOAT, sizeof(float), kMain); }
  void all_reduce_sum(double* data, size_t n) override { all_reduce(data, n, MPI_DOUBLE, sizeof(double), kMain); }

  void reduce_scatter_sum(const float* in, float* out, const std::vector<size_t>& counts) override {
    std::vector<int> c = int_counts(counts);
    Watch w(this, kMain, "reduce-scatter");
    MPI_CHECK(MPI_Reduce_scatter(in, out, c.data(), MPI_FLOAT, MPI_SUM, comm_));
  }
  void all_gather(float* data, const std::vector<size_t>& counts) override {
    std::vector<int> c = int_counts(counts), displs = displacements(c);
    Watch w(this, kMain, "all-gather");
    MPI_CHECK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, data, c.data(), displs.data(), MPI_FLOAT, comm_));
  }
  void gather(const float* part, float* full, const std::vector<size_t>& counts, int root) override {
    std::vector<int> c = int_counts(counts), displs = displacements(c);
    Watch w(this, kMain, "gather");
    MPI_CHECK(MPI_Gatherv(part, c[size_t(rank_)], MPI_FLOAT, full, c.data(), displs.data(), MPI_FLOAT, root, comm_));
  }
  void broadcast(void* data, size_t bytes, int root) override {
    Watch w(this, kMain, "broadcast");
    MPI_CHECK(MPI_Bcast(data, as_count(bytes), MPI_BYTE, root, comm_));
  }
  void barrier() override {
    Watch w(this, kMain, "barrier");
    MPI_CHECK(MPI_Barrier(comm_));
  }

  // Buckets: queued for the worker, reduced in order while the caller computes.
  void start_all_reduce_sum(float* data, size_t n) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back({data, n});
      ++queued_;
      ++entered_;
    }
    cv_.notify_all();
  }
  void wait_all() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ == queued_; });
    if (!worker_error_.empty()) {
      std::string e = worker_error_;
      worker_error_.clear();
      throw UserError("mpi", e);
    }
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  enum Slot { kMain = 0, kWorker = 1 };
  struct Deadline {
    const char* what = nullptr;  // null: not armed
    clock::time_point at;
  };
  struct Bucket {
    float* data;
    size_t n;
  };

  // Arms the watchdog for one blocking call of the calling thread (its slot) and disarms it.
  class Watch {
   public:
    Watch(MpiComm* c, Slot s, const char* what) : c_(c), s_(s) {
      std::lock_guard<std::mutex> lock(c_->mu_);
      if (s == kMain) ++c_->entered_;
      c_->deadline_[s_] = {what, clock::now() + std::chrono::duration_cast<clock::duration>(
                                                    std::chrono::duration<double>(c_->timeout_))};
    }
    ~Watch() {
      std::lock_guard<std::mutex> lock(c_->mu_);
      c_->deadline_[s_].what = nullptr;
    }

   private:
    MpiComm* c_;
    Slot s_;
  };

  void all_reduce(void* data, size_t n, MPI_Datatype type, size_t elem, Slot slot) {
    Watch w(this, slot, slot == kWorker ? "gradient all-reduce" : "all-reduce");
    for (size_t off = 0; off < n; off += kMaxCount)
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(data) + off * elem, int(std::min(kMaxCount, n - off)),
                              type, MPI_SUM, comm_));
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

  void worker_loop() {
    for (;;) {
      Bucket b{};
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        b = queue_.front();
        queue_.pop_front();
      }
      std::string error;
      try {
        all_reduce(b.data, b.n, MPI_FLOAT, sizeof(float), kWorker);
      } catch (const std::exception& e) {
        error = e.what();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++done_;
        if (!error.empty() && worker_error_.empty()) worker_error_ = error;
      }
      cv_.notify_all();
    }
  }

  // Answers pings and watches the deadlines, every 2 ms, until the communicator is destroyed.
  void service_loop() {
    for (;;) {
      const char* expired = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, std::chrono::milliseconds(2), [&] { return stop_; })) return;
        for (const Deadline& d : deadline_)
          if (d.what && clock::now() > d.at) expired = d.what;
      }
      answer_pings();
      if (expired) on_timeout(expired);
    }
  }

  void answer_pings() {
    for (;;) {
      int flag = 0;
      MPI_Status st;
      if (MPI_Iprobe(MPI_ANY_SOURCE, kPing, ping_comm_, &flag, &st) != MPI_SUCCESS || !flag) return;
      int token = 0;
      MPI_Recv(&token, 1, MPI_INT, st.MPI_SOURCE, kPing, ping_comm_, MPI_STATUS_IGNORE);
      unsigned long long entered = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        entered = entered_;
      }
      MPI_Send(&entered, 1, MPI_UNSIGNED_LONG_LONG, st.MPI_SOURCE, kPong, ping_comm_);  // tiny: sent eagerly
    }
  }

  // Pings `targets`, answering pings meanwhile, for `seconds`; returns per rank 0 (no answer) or
  // 1 + the number of collectives it had entered.
  std::vector<unsigned long long> ping(const std::vector<int>& targets, double seconds) {
    std::vector<unsigned long long> answered(size_t(size_), 0);
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
        unsigned long long entered = 0;
        MPI_Recv(&entered, 1, MPI_UNSIGNED_LONG_LONG, st.MPI_SOURCE, kPong, ping_comm_, MPI_STATUS_IGNORE);
        if (!answered[size_t(st.MPI_SOURCE)]) ++got;
        answered[size_t(st.MPI_SOURCE)] = 1 + entered;
        continue;
      }
      answer_pings();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return answered;
  }

  // In the service thread: find who is silent, say so in one line, end the job.
  [[noreturn]] void on_timeout(const char* what) {
    std::string line = strprintf("rank %d: %s timed out after %g s (--comm-timeout)", rank_, what, timeout_);
    if (rank_ == 0) {
      std::vector<int> others;
      for (int r = 1; r < size_; ++r) others.push_back(r);
      std::vector<unsigned long long> answered = ping(others, kPingWindow);
      unsigned long long mine = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        mine = entered_;
      }
      std::vector<int> silent, behind;
      for (int r : others) {
        if (!answered[size_t(r)]) silent.push_back(r);
        else if (answered[size_t(r)] - 1 < mine) behind.push_back(r);
      }
      if (!silent.empty()) line += ": " + rank_list(silent) + " did not answer (dead or stopped)";
      if (!behind.empty())
        line += (silent.empty() ? ": " : "; ") + rank_list(behind) +
                " answered but never reached this collective (hung computing or in I/O)";
      if (silent.empty() && behind.empty()) line += ": every rank answers and reached it, but it did not complete";
    } else if (!ping({0}, kPingWindow)[0]) {
      line += ": rank 0 did not answer (dead or stopped)";
    } else {
      // Rank 0 is alive and names the silent ranks: give it time to say so and end the job.
      ping({}, kPingWindow + 5.0);
      line += ": waiting for another rank (rank 0 names it)";
    }
    std::fprintf(stderr, "tweetlm: error: training: %s; ending the job\n", line.c_str());
    std::fflush(stderr);
    abort(2);
  }

  // "rank 3", "ranks 1, 4" (at most 16 listed).
  static std::string rank_list(const std::vector<int>& r) {
    std::string s = r.size() > 1 ? "ranks " : "rank ";
    for (size_t i = 0; i < r.size() && i < 16; ++i) s += (i ? ", " : "") + std::to_string(r[i]);
    if (r.size() > 16) s += strprintf(" and %zu more", r.size() - 16);
    return s;
  }

  MPI_Comm comm_ = MPI_COMM_NULL, ping_comm_ = MPI_COMM_NULL;
  bool finalize_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Deadline deadline_[2];
  std::deque<Bucket> queue_;
  uint64_t queued_ = 0, done_ = 0;
  unsigned long long entered_ = 0;  // collectives this rank's caller entered (buckets included)
  std::string worker_error_;
  std::thread service_, worker_;
};

}  // namespace

bool have_mpi() { return true; }
std::unique_ptr<Communicator> make_mpi_comm() { return std::make_unique<MpiComm>(); }

#endif

}  // namespace tlm::dist
