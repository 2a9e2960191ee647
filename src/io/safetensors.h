// safetensors (Hugging Face): an 8-byte little-endian header length, a JSON header mapping each
// tensor name to {dtype, shape, data_offsets} plus an optional "__metadata__" string map, then
// the raw little-endian data. Our checkpoints and HF exports use it.
//
// Reading is defensive (the file may be truncated, hostile or from another tool): the header
// length, every offset, shape and dtype is checked against the file before anything is read,
// offsets must be in bounds, non-overlapping and agree with dtype x shape; every problem is one
// UserError naming the file. Writing is atomic (temp file, fsync, rename).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/file.h"

namespace tlm {

enum class DType { F32, F16, BF16, I32, I64, U8 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "F32", "F16", ...

// One tensor to write: the bytes must be dtype_size(dtype) * product(shape).
struct TensorOut {
  std::string name;
  DType dtype = DType::F32;
  std::vector<size_t> shape;
  const void* data = nullptr;
};

// Writes `tensors` (in the given order, data 8-byte aligned after the header as the format
// recommends) and the metadata map atomically to `path`.
void write_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

struct TensorIn {
  std::string name;
  DType dtype = DType::F32;
  std::vector<size_t> shape;
  size_t offset = 0;  // from the start of the file
  size_t bytes = 0;
};

// A validated, memory-mapped safetensors file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  // Validates bytes already in memory (tests, fuzzing); `name` is used in errors.
  static SafetensorsFile from_bytes(std::string_view bytes, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<TensorIn>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorIn* find(const std::string& name) const;  // nullptr when absent
  std::span<const std::byte> data(const TensorIn& t) const;
  // Copies tensor `name` into `out` as float32 (F32, F16 or BF16 in the file), after checking
  // that it exists and has exactly `shape`; otherwise a UserError naming the file and tensor.
  void read_f32(const std::string& name, const std::vector<size_t>& shape, float* out) const;

 private:
  SafetensorsFile() = default;
  void parse();

  std::string path_;
  MappedFile map_;
  std::string_view bytes_;
  std::vector<TensorIn> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace tlm
