// Thread-count control (see threads.h).
#include "core/threads.h"

#include <omp.h>
#include <unistd.h>

namespace tlm {

int hardware_threads() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

static int g_threads = 0;

void set_num_threads(int n) {
  g_threads = n > 0 ? n : hardware_threads();
  omp_set_num_threads(g_threads);
}

int num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

}  // namespace tlm
