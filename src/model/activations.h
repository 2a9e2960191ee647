// Everything a training step writes, allocated once for the largest B x T (no allocation inside
// a step). Per layer we keep exactly what backward reads: the normalised inputs and their
// reciprocal RMS, the post-RoPE q/k/v, the attention output and its log-sum-exp, the SwiGLU
// input and output, and the residual stream between sub-blocks. The backward scratch buffers
// are shared by all layers. In bf16 precision the inputs of the linear layers are also kept
// rounded to bf16 (the forward rounds them anyway; the backward then reads them as they are).
#pragma once

#include <cstdint>
#include <vector>

#include "core/buffer.h"
#include "model/config.h"

namespace tlm {

struct LayerActivations {
  AlignedBuffer<float> ln1, rstd1;   // [N, C], [N]
  AlignedBuffer<float> qkv;          // [N, (H + 2 KVH) D], q and k rotated
  AlignedBuffer<float> att, lse;     // [N, H D], [B, H, T]
  AlignedBuffer<float> x_mid;        // [N, C]: residual stream after attention
  AlignedBuffer<float> ln2, rstd2;   // [N, C], [N]
  AlignedBuffer<float> gateup;       // [N, 2F]
  AlignedBuffer<float> act;          // [N, F]: silu(gate) * up
  // bf16 precision only (empty otherwise): ln1, att, ln2, act rounded to bf16.
  AlignedBuffer<uint16_t> ln1_bf16, att_bf16, ln2_bf16, act_bf16;
};

struct Activations {
  Activations(const ModelConfig& cfg, int B, int T);
  // Allocates the bf16 copies (bf16 precision).
  void alloc_bf16(const ModelConfig& cfg, int B, int T);

  std::vector<AlignedBuffer<float>> residual;  // L + 1 of [N, C]: the input of each layer, then the output
  std::vector<LayerActivations> layers;
  AlignedBuffer<float> lnf, rstdf;             // final norm [N, C], [N]
  AlignedBuffer<uint16_t> lnf_bf16;            // [N, C], bf16 precision only
  AlignedBuffer<float> logits;                 // [N, V]; holds dlogits after backward
  AlignedBuffer<float> losses, lse_ce;         // [N], [N]
  AlignedBuffer<float> rope_cos, rope_sin;     // [T, D/2]
  // Forward scratch and backward gradients of activations (shared by all layers).
  AlignedBuffer<float> tmp;                    // [N, C]
  AlignedBuffer<float> dres, dln;              // [N, C]
  AlignedBuffer<float> dqkv, datt;             // [N, QKV], [N, H D]
  AlignedBuffer<float> dgateup, dact;          // [N, 2F], [N, F]
  AlignedBuffer<float> dlosses;                // [N]
};

}  // namespace tlm
