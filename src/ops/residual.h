// Residual connection: out = a + b. Its backward is the identity into both branches; the model
// accumulates the residual-stream gradient in place, so only the forward needs a kernel.
#pragma once

#include <cstddef>

namespace tlm::ops {

// out[n] = a[n] + b[n] (out may alias a or b).
void residual_forward(float* out, const float* a, const float* b, size_t n);

// da[n] += dout[n], db[n] += dout[n] (either may be null).
void residual_backward(float* da, float* db, const float* dout, size_t n);

}  // namespace tlm::ops
