// Batch: sizing and the document boundaries of packed tweets (see batch.h for the rule).
#include "model/batch.h"

namespace tlm {

void Batch::resize(int b, int t) {
  B = b, T = t;
  size_t n = size_t(b) * size_t(t);
  tokens.assign(n, 0);
  targets.assign(n, -1);
  pos.assign(n, 0);
  doc_start.assign(n, 0);
}

void Batch::compute_documents(int32_t eos_id) {
  for (int b = 0; b < B; b++) {
    size_t row = size_t(b) * size_t(T);
    int32_t start = 0;
    for (int t = 0; t < T; t++) {
      if (tokens[row + t] == eos_id) start = t;
      doc_start[row + t] = start;
      pos[row + t] = t - start;
    }
  }
}

int64_t Batch::count_targets() const {
  int64_t n = 0;
  for (int32_t t : targets) n += t >= 0;
  return n;
}

}  // namespace tlm
