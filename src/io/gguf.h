// GGUF v3 writer: the single-file model format of llama.cpp (ggml/docs/gguf.md). A file is a
// little-endian header ("GGUF", version 3, tensor count, metadata count), the metadata
// key-value pairs, one info record per tensor (name, dims fastest-first, ggml type, offset), then
// the tensor data, each tensor starting at a multiple of general.alignment (32 unless set).
//
// The writer knows the format only, not models (src/infer/export_gguf.h maps a model onto it).
// Tensor data is produced on demand while the file is written, so exporting holds one tensor's
// bytes at a time, and the file is written atomically (core/file.h AtomicFile).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tlm {

// Metadata value types, numbered as in the GGUF specification.
enum class GgufType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};

// Tensor element types (ggml_type numbers); the writer takes the bytes as given.
enum class GgmlType : uint32_t { f32 = 0, f16 = 1 };
size_t ggml_type_size(GgmlType t);  // bytes per element

// IEEE binary16 with round-to-nearest-even (ggml's GGML_FP32_TO_FP16), overflow to infinity.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

class GgufWriter {
 public:
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void add_f32_array(const std::string& key, const std::vector<float>& v);

  // `dims` fastest-varying first (ggml's ne0 ...): a PyTorch [out, in] matrix is {in, out}.
  // `produce` returns the tensor's bytes (product(dims) * ggml_type_size(type)) when the data is
  // written; a wrong size is an internal error.
  void add_tensor(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                  std::function<std::string()> produce);

  uint32_t alignment() const { return alignment_; }
  // Also written as general.alignment; a power of two. Default 32 (not written then).
  void set_alignment(uint32_t a);

  // Writes the whole file atomically. Duplicate keys or tensor names are internal errors.
  void write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    GgmlType type;
    uint64_t bytes;
    std::function<std::string()> produce;
  };
  void begin_kv(const std::string& key, GgufType type);
  std::string kv_;  // serialized metadata pairs
  uint64_t n_kv_ = 0;
  std::vector<std::string> keys_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace tlm
