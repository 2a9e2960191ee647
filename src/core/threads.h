// Thread-count control for the whole process (-t/--threads). OpenMP does the parallel loops;
// this is the one place that sets how many threads they use. 0 means all online cores.
#pragma once

namespace tlm {

void set_num_threads(int n);
int num_threads();
int hardware_threads();

}  // namespace tlm
