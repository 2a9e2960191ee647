// Joining the job a launcher started (mpirun, srun, ...: detect_launch), so that a command's
// front end only parses flags and prints: Job makes the job's communicators, runs the work,
// and turns an error on any rank into one printed line and the end of the whole job
// (Communicator::abort), instead of leaving the other ranks waiting in a collective.
//
// It exists apart from comm.h because it is policy, not transport: how many threads a rank gets,
// which ranks print, and which communicator carries GPU buffers (NCCL on a real GPU; on the CPU
// emulator of CUDA, device memory is host memory and MPI carries it).
#pragma once

#include <functional>
#include <memory>

#include "dist/comm.h"

namespace tlm::dist {

struct JobOptions {
  double timeout = 600;         // --comm-timeout: seconds a collective waits for the other ranks
  bool threads_given = false;   // -t given: keep it; otherwise cores / (ranks on this node) each
  bool device_buffers = false;  // the work all-reduces GPU buffers: make device_comm too
};

// The communicators of the job; both null for a plain one-process start.
struct JobComms {
  Communicator* comm = nullptr;         // MPI on host buffers
  Communicator* device_comm = nullptr;  // with device_buffers: on device buffers (NCCL, or MPI under emulation)
};

// The job this process belongs to, joined on construction (MPI is initialised when the launch
// has several processes) and left on destruction (MPI finalised): keep it alive until the
// command has printed its result, as an MPI program's output ends before MPI_Finalize.
class Job {
 public:
  explicit Job(const JobOptions& options);
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  const JobComms& comms() const { return comms_; }
  int rank() const;  // 0 for a plain start

  // Runs `work`. One process: exceptions propagate unchanged. Several: ranks other than 0 log
  // warnings and errors only; an exception is printed as "tweetlm: error: ..." (UserError) or
  // "tweetlm: internal error: ..." (with "rank N: " unless it comes from rank 0 or is a timeout,
  // which names the ranks itself) and the whole job is aborted with exit code 2 or 1.
  void run(const std::function<void(const JobComms&)>& work);

 private:
  std::unique_ptr<Communicator> comm_, device_comm_;
  JobComms comms_;
};

}  // namespace tlm::dist
