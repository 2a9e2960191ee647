// The NCCL communicator (see comm.h): device buffers, one CUDA stream, bootstrapped over MPI.
// Uneven parts (split_counts) are not NCCL's reduce-scatter/all-gather shape (equal counts), so
// those two are built from grouped per-root reduces/broadcasts, which NCCL fuses into one launch.
// Every wait polls the stream against the timeout and NCCL's asynchronous error state.
// Builds without NCCL (TLM_HAVE_NCCL unset) get a make_nccl_comm that refuses clearly.
#include "dist/comm.h"

#ifdef TLM_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#endif

namespace tlm::dist {

#ifndef TLM_HAVE_NCCL

bool have_nccl() { return false; }
std::unique_ptr<Communicator> make_nccl_comm(Communicator&, int) {
  throw UserError("nccl", "this tweetlm was built without CUDA/NCCL (found under /usr/local/cuda at build time)");
}

#else

namespace {

#define CUDA_CHECK(call)                                                                              \
  do {                                                                                                \
    cudaError_t e_ = (call);                                                                          \
    if (e_ != cudaSuccess) throw UserError("cuda", strprintf("%s failed: %s", #call, cudaGetErrorString(e_))); \
  } while (0)
#define NCCL_CHECK(call)                                                                               \
  do {                                                                                                 \
    ncclResult_t r_ = (call);                                                                          \
    if (r_ != ncclSuccess)                                                                             \
      throw UserError("nccl", strprintf("rank %d: %s failed: %s", rank_, #call, ncclGetErrorString(r_))); \
  } while (0)

class NcclComm final : public Communicator {
 public:
  NcclComm(Communicator& boot, int local_rank) : boot_(&boot) {
    rank_ = boot.rank();
    size_ = boot.size();
    timeout_ = boot.timeout();
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
      throw UserError("cuda", strprintf("rank %d: no CUDA device", rank_));
    CUDA_CHECK(cudaSetDevice(local_rank % devices));
    ncclUniqueId id{};
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    boot.broadcast(&id, sizeof id, 0);
    NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~NcclComm() override {
    if (stream_) cudaStreamDestroy(stream_);
    if (comm_) aborted_ ? ncclCommAbort(comm_) : ncclCommDestroy(comm_);
  }

  const char* backend() const override { return "nccl"; }

  void all_reduce_sum(float* data, size_t n) override {
    NCCL_CHECK(ncclAllReduce(data, data, n, ncclFloat32, ncclSum, comm_, stream_));
    wait("all-reduce");
  }
  void all_reduce_sum(double* data, size_t n) override {
    NCCL_CHECK(ncclAllReduce(data, data, n, ncclFloat64, ncclSum, comm_, stream_));
    wait("all-reduce");
  }
  void reduce_scatter_sum(const float* in, float* out, const std::vector<size_t>& counts) override {
    check_counts(counts);
    NCCL_CHECK(ncclGroupStart());
    size_t off = 0;
    for (int r = 0; r < size_; ++r) {
      NCCL_CHECK(ncclReduce(in + off, r == rank_ ? out : nullptr, counts[size_t(r)], ncclFloat32, ncclSum, r, comm_,
                            stream_));
      off += counts[size_t(r)];
    }
    NCCL_CHECK(ncclGroupEnd());
    wait("reduce-scatter");
  }
  void all_gather(float* data, const std::vector<size_t>& counts) override {
    check_counts(counts);
    NCCL_CHECK(ncclGroupStart());
    size_t off = 0;
    for (int r = 0; r < size_; ++r) {
      NCCL_CHECK(ncclBroadcast(data + off, data + off, counts[size_t(r)], ncclFloat32, r, comm_, stream_));
      off += counts[size_t(r)];
    }
    NCCL_CHECK(ncclGroupEnd());
    wait("all-gather");
  }
  void gather(const float* part, float* full, const std::vector<size_t>& counts, int root) override {
    check_counts(counts);
    NCCL_CHECK(ncclGroupStart());
    if (rank_ == root) {
      size_t off = 0;
      for (int r = 0; r < size_; ++r) {
        if (r == root)
          CUDA_CHECK(cudaMemcpyAsync(full + off, part, counts[size_t(r)] * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
        else
          NCCL_CHECK(ncclRecv(full + off, counts[size_t(r)], ncclFloat32, r, comm_, stream_));
        off += counts[size_t(r)];
      }
    } else {
      NCCL_CHECK(ncclSend(part, counts[size_t(rank_)], ncclFloat32, root, comm_, stream_));
    }
    NCCL_CHECK(ncclGroupEnd());
    wait("gather");
  }
  void broadcast(void* data, size_t bytes, int root) override {
    NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
    wait("broadcast");
  }
  void barrier() override { boot_->barrier(); }

  void start_all_reduce_sum(float* data, size_t n) override {
    NCCL_CHECK(ncclAllReduce(data, data, n, ncclFloat32, ncclSum, comm_, stream_));
  }
  void wait_all() override { wait("gradient all-reduce"); }

  [[noreturn]] void abort(int code) override {
    if (comm_ && !aborted_) ncclCommAbort(comm_);
    aborted_ = true;
    boot_->abort(code);
    std::_Exit(code);  // not reached: the bootstrap's abort ends the process
  }

 private:
  void check_counts(const std::vector<size_t>& counts) const {
    TLM_CHECK(counts.size() == size_t(size_), "%zu counts for %d ranks", counts.size(), size_);
  }

  // Polls the stream: done, an asynchronous NCCL error (a peer failed), or the timeout, after
  // which the communicator is aborted so no kernel keeps waiting for a lost peer.
  void wait(const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) CUDA_CHECK(q);
      ncclResult_t async = ncclSuccess;
      NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
      if (async != ncclSuccess) {
        ncclCommAbort(comm_);
        aborted_ = true;
        throw UserError("nccl", strprintf("rank %d: %s failed: %s", rank_, what, ncclGetErrorString(async)));
      }
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_) {
        ncclCommAbort(comm_);
        aborted_ = true;
        throw CommTimeout("training", strprintf("rank %d: NCCL %s timed out after %g s (--comm-timeout): a peer is "
                                                "dead or hung; ending the job", rank_, what, timeout_));
      }
      std::this_thread::yield();
    }
  }

  Communicator* boot_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool aborted_ = false;
};

}  // namespace

bool have_nccl() { return true; }
std::unique_ptr<Communicator> make_nccl_comm(Communicator& bootstrap, int local_rank) {
  return std::make_unique<NcclComm>(bootstrap, local_rank);
}

#endif

}  // namespace tlm::dist
