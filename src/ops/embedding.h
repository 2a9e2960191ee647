// Token embedding lookup: the first op of the model. Forward copies rows of the table; backward
// scatters gradients back into the rows, in token order, so the result does not depend on the
// number of threads (no atomics, no races: each thread owns a slice of the channels).
#pragma once

#include <cstdint>
#include <vector>

namespace tlm::ops {

// out[N, C] = wte[tokens[n], :]. Every token id must be < V (the caller validated it).
void embedding_forward(float* out, const int32_t* tokens, const float* wte, int N, int C);

// dwte[tokens[n], :] += dout[n, :].
void embedding_backward(float* dwte, const float* dout, const int32_t* tokens, int N, int C);


// CUDA (ops/cuda/embedding.cu), device pointers; the table and the residual stream are fp32.
// The backward is deterministic without atomics: the host groups the positions of each token
// (embedding_backward_index, on the batch's host tokens), and one block per distinct token sums
// its rows in position order.
namespace cuda {
void embedding_forward(float* out, const int32_t* tokens, const float* wte, int N, int C);
// Host side: the distinct tokens of tokens[N] in increasing order (uniq), and for the i-th of
// them the positions positions[offsets[i] .. offsets[i+1]) in increasing order.
void embedding_backward_index(std::vector<int32_t>& uniq, std::vector<int32_t>& offsets,
                              std::vector<int32_t>& positions, const int32_t* tokens, int N);
// dwte[uniq[i], :] += sum of dout[p, :] over its positions (device copies of the index).
void embedding_backward(float* dwte, const float* dout, const int32_t* uniq, const int32_t* offsets,
                        const int32_t* positions, int n_uniq, int C);
}  // namespace cuda

}  // namespace tlm::ops
