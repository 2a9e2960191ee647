// Model FLOPs utilisation: the model FLOPs a step needs (ModelConfig::train_flops_per_token,
// with the attention term from the documents actually in the batch) over the machine's peak.
// On the CPU the peak is measured, not looked up: a short sgemm of 1024^3 through the same
// matmul the model uses, on the same threads, so MFU says how close training runs to what this
// machine's BLAS can do. On a GPU it is the datasheet's dense bf16 peak, the figure published
// MFUs (llm.c, Megatron, PaLM) are quoted against.
#pragma once

#include <string>

#include "model/batch.h"

namespace tlm {

// GFLOP/s of ops::matmul_forward on 1024 x 1024 x 1024, run for about `seconds` after one
// warm-up call.
double measure_sgemm_gflops(double seconds = 0.3);
// The same for the bf16 matmul of --dtype bf16 (oneDNN, packed weights, input already bf16, as
// the model runs it); needs a build with oneDNN.
double measure_bf16_gflops(double seconds = 0.3);
// The dense bf16 tensor-core peak of a GPU from its name (cudaDeviceProp::name), in GFLOP/s:
// H100/H200 SXM 989 TFLOP/s, A100 312, ...; 0 for a GPU not in the table.
double gpu_bf16_peak_gflops(const std::string& device_name);

// The mean number of keys a query attends to in this batch: mean over tokens of (pos + 1),
// since document masking lets a token see only its own document's earlier tokens.
double mean_attended_keys(const Batch& batch);

}  // namespace tlm
