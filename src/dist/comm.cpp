// The one-process communicator, launcher detection and the shard layout (see comm.h).
#include "dist/comm.h"

#include <cstdlib>
#include <cstring>

namespace tlm::dist {
namespace {

class SelfComm final : public Communicator {
 public:
  const char* backend() const override { return "self"; }
  void all_reduce_sum(float*, size_t) override {}
  void all_reduce_sum(double*, size_t) override {}
  void reduce_scatter_sum(const float* in, float* out, const std::vector<size_t>& counts) override {
    if (in != out) std::memmove(out, in, counts.at(0) * sizeof(float));
  }
  void all_gather(float*, const std::vector<size_t>&) override {}
  void gather(const float* part, float* full, const std::vector<size_t>& counts, int) override {
    if (part != full) std::memmove(full, part, counts.at(0) * sizeof(float));
  }
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  void start_all_reduce_sum(float*, size_t) override {}
  void wait_all() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

// The integer value of environment variable `name`, or -1 when unset or not a number.
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return *end == '\0' && x >= 0 && x < (1L << 30) ? int(x) : -1;
}

}  // namespace

std::unique_ptr<Communicator> make_self_comm() { return std::make_unique<SelfComm>(); }

LaunchInfo detect_launch() {
  LaunchInfo li;
  struct Source {
    const char* launcher;
    const char *rank, *size, *local_rank, *local_size;
  };
  static const Source kSources[] = {
      {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
      {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
      {"pmix", "PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE"},
  };
  for (const Source& s : kSources) {
    int rank = env_int(s.rank), size = env_int(s.size);
    if (rank < 0 || size < 1 || rank >= size) continue;
    li.launcher = s.launcher;
    li.rank = rank;
    li.size = size;
    int lr = env_int(s.local_rank), ls = env_int(s.local_size);
    li.local_rank = lr >= 0 ? lr : 0;
    li.local_size = ls >= 1 ? ls : 1;
    break;
  }
  return li;
}

std::vector<size_t> split_counts(size_t n, int parts) {
  TLM_CHECK(parts >= 1, "split into %d parts", parts);
  std::vector<size_t> c(size_t(parts), n / size_t(parts));
  for (size_t i = 0; i < n % size_t(parts); ++i) ++c[i];
  return c;
}

}  // namespace tlm::dist
