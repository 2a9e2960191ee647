// Test-only: the CPU ops instantiated in double precision. The op bodies in ops/cpu/*.cpp are
// templates on the element type; the public API (ops/*.h) is their float instantiation and these
// are the double one, so the finite-difference gradient checks run the very same code in double
// (matmul goes through cblas_dgemm). Not for the model: it trains in fp32.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tlm::ops::f64 {

void embedding_forward(double* out, const int32_t* tokens, const double* wte, int N, int C);
void embedding_backward(double* dwte, const double* dout, const int32_t* tokens, int N, int C);

void rmsnorm_forward(double* out, double* rstd, const double* inp, const double* weight, int N, int C, double eps);
void rmsnorm_backward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                      const double* rstd, int N, int C);

void matmul_forward(double* out, const double* inp, const double* weight, int N, int IC, int OC);
void matmul_backward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                     int N, int IC, int OC);

// The tables stay float in the model; here they are computed in double from the same angles.
void rope_table(double* cos, double* sin, int max_pos, int D, double theta);
void rope_forward(double* x, int row_stride, const int32_t* pos, const double* cos, const double* sin, int N,
                  int n_heads, int D);
void rope_backward(double* dx, int row_stride, const int32_t* pos, const double* cos, const double* sin, int N,
                   int n_heads, int D);

void attention_forward(double* out, double* lse, const double* qkv, const int32_t* doc_start, int B, int T, int H,
                       int KVH, int D);
void attention_backward(double* dqkv, const double* dout, const double* qkv, const double* out, const double* lse,
                        const int32_t* doc_start, int B, int T, int H, int KVH, int D);

void swiglu_forward(double* out, const double* gateup, int N, int F);
void swiglu_backward(double* dgateup, const double* dout, const double* gateup, int N, int F);

void residual_forward(double* out, const double* a, const double* b, size_t n);
void residual_backward(double* da, double* db, const double* dout, size_t n);

void cross_entropy_forward(double* losses, double* lse, const double* logits, const int32_t* targets, int N, int V);
void cross_entropy_backward(double* dlogits, const double* logits, const double* lse, const int32_t* targets,
                            const double* dlosses, int N, int V);

}  // namespace tlm::ops::f64
