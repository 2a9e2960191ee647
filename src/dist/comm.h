// The communicator of data-parallel training: the handful of collectives the trainer needs
// (all-reduce, reduce-scatter, all-gather, gather, broadcast, barrier), each with a timeout, behind
// one interface, so the trainer never knows whether it talks to one process (SelfComm), to MPI on
// host buffers (mpi_comm.cpp) or to NCCL on device buffers (nccl_comm.cpp).
//
// Failure model. MPI collectives have no timeout of their own and a dead or stopped peer makes
// them wait forever, so every collective here is bounded by a deadline (--comm-timeout). The
// MPI communicator watches its blocking calls from a service thread that also answers "are you
// alive?" pings; when a deadline passes, rank 0 names the ranks that are dead or stopped (no
// answer) or stuck outside communication (alive, but never reached the collective), prints one
// line and aborts the job (mpi_comm.cpp). The NCCL communicator polls its stream and throws
// CommTimeout (a UserError: one line, no internals), after which the caller aborts the job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"

namespace tlm::dist {

struct CommTimeout : UserError {
  using UserError::UserError;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  int rank() const { return rank_; }
  int size() const { return size_; }
  virtual const char* backend() const = 0;  // "self", "mpi", "nccl"

  // Seconds a collective may wait for the other ranks before it fails (CommTimeout).
  void set_timeout(double seconds) { timeout_ = seconds; }
  double timeout() const { return timeout_; }

  // In place: data[i] = sum over ranks of data[i].
  virtual void all_reduce_sum(float* data, size_t n) = 0;
  virtual void all_reduce_sum(double* data, size_t n) = 0;
  // in: the whole buffer (sum(counts) floats) on every rank; out: this rank's part of the sum,
  // counts[rank()] floats (rank r's part starts at counts[0] + ... + counts[r - 1]).
  virtual void reduce_scatter_sum(const float* in, float* out, const std::vector<size_t>& counts) = 0;
  // In place over the whole buffer: every rank contributes its part (laid out as above) and
  // receives everyone's.
  virtual void all_gather(float* data, const std::vector<size_t>& counts) = 0;
  // Rank `root` receives every rank's part (`part`, counts[rank()] floats) into `full`
  // (sum(counts) floats; only read on root, may be null elsewhere).
  virtual void gather(const float* part, float* full, const std::vector<size_t>& counts, int root) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  // Asynchronous all-reduce (sum) for gradient buckets: start them in the same order on every
  // rank, keep computing (progress() lets a backend move data meanwhile), then wait for all.
  virtual void start_all_reduce_sum(float* data, size_t n) = 0;
  virtual void progress() {}
  virtual void wait_all() = 0;

  // Ends every process of the job with `code` (after the caller printed why).
  [[noreturn]] virtual void abort(int code) = 0;

 protected:
  int rank_ = 0, size_ = 1;
  double timeout_ = 600;
};

// The world of one process: collectives are copies or nothing.
std::unique_ptr<Communicator> make_self_comm();

// How this process was started, from the launcher's environment: Open MPI's mpirun
// (OMPI_COMM_WORLD_*), PMIx (PMIX_RANK), MPICH/Hydra or Intel MPI (PMI_RANK/PMI_SIZE), Slurm's srun
// (SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID). size == 1 and launcher "" for a plain start.
struct LaunchInfo {
  std::string launcher;  // "mpirun", "pmix", "pmi", "srun" or ""
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
};
LaunchInfo detect_launch();

// Whether this build has the MPI communicator (built with libopenmpi-dev).
bool have_mpi();
// Initialises MPI (thread level "funneled": OpenMP threads compute, only the main thread calls
// MPI) and returns the world communicator; MPI is finalised when it is destroyed. UserError in a
// build without MPI.
std::unique_ptr<Communicator> make_mpi_comm();

// Whether this build has the NCCL communicator (CUDA toolkit with NCCL found at build time).
bool have_nccl();
// NCCL on device buffers: every pointer given to its collectives is CUDA device memory, and the
// collectives run on the communicator's own stream (each call returns when its result is ready;
// start_all_reduce_sum only enqueues). Bootstrapped over `bootstrap` (the MPI communicator):
// rank 0 creates the ncclUniqueId and broadcasts it. Uses GPU local_rank % (visible GPUs).
// A timeout aborts the NCCL communicator (ncclCommAbort) before CommTimeout is thrown, so no
// kernel stays blocked on a lost peer. UserError without NCCL or without a GPU.
std::unique_ptr<Communicator> make_nccl_comm(Communicator& bootstrap, int local_rank);

// Splits n elements into `parts` contiguous near-equal parts (the first n % parts get one more),
// the shard layout of ZeRO-1 and of reduce_scatter_sum / all_gather.
std::vector<size_t> split_counts(size_t n, int parts);

}  // namespace tlm::dist
