// The job a launcher started (see launch.h).
#include "dist/launch.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "core/check.h"
#include "core/log.h"
#include "core/threads.h"
#include "ops/cuda_device.h"

namespace tlm::dist {

Job::Job(const JobOptions& options) {
  const LaunchInfo launch = detect_launch();
  if (launch.size <= 1) return;
  comm_ = make_mpi_comm();
  comm_->set_timeout(options.timeout);
  if (!options.threads_given) set_num_threads(std::max(1, hardware_threads() / launch.local_size));
  if (comm_->rank() != 0 && log_level() < LogLevel::warn) set_log_level(LogLevel::warn);
  comms_.comm = comm_.get();
  // One GPU per process (local rank -> device).
  if (options.device_buffers && cuda::emulated()) {
    comms_.device_comm = comm_.get();
  } else if (options.device_buffers) {
    device_comm_ = make_nccl_comm(*comm_, launch.local_rank);
    device_comm_->set_timeout(options.timeout);
    comms_.device_comm = device_comm_.get();
  }
}

Job::~Job() {
  device_comm_.reset();  // NCCL before the MPI it was bootstrapped over
  comm_.reset();
}

int Job::rank() const { return comm_ ? comm_->rank() : 0; }

void Job::run(const std::function<void(const JobComms&)>& work) {
  try {
    work(comms_);
  } catch (const std::exception& e) {
    if (!comm_ || comm_->size() == 1) throw;
    // One line per failing rank, then the whole job ends: the others may be waiting for us.
    const bool user = dynamic_cast<const UserError*>(&e) != nullptr;
    const bool timeout_msg = dynamic_cast<const CommTimeout*>(&e) != nullptr;
    std::string where = comm_->rank() == 0 || timeout_msg ? "" : strprintf("rank %d: ", comm_->rank());
    std::fprintf(stderr, "tweetlm: %s%s%s\n", user ? "error: " : "internal error: ", where.c_str(), e.what());
    std::fflush(stderr);
    comm_->abort(user ? 2 : 1);
  }
}

}  // namespace tlm::dist
