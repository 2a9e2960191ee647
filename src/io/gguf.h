// GGUF v3 writer and defensive reader: the single-file model format of llama.cpp (ggml/docs/gguf.md). A file is a
// little-endian header ("GGUF", version 3, tensor count, metadata count), the metadata
// key-value pairs, one info record per tensor (name, dims fastest-first, ggml type, offset), then
// the tensor data, each tensor starting at a multiple of general.alignment (32 unless set).
//
// The reader (GgufFile, io/gguf_read.cpp) memory-maps a file and checks every count, length,
// dimension, offset and size against the file before using it (overflow-safe), so a malformed or
// hostile file (llama.cpp's GGUF CVEs: huge counts, strings or arrays past the end, dimension
// products that overflow, offsets past the end or misaligned, duplicate names) is one UserError
// naming the file, never a crash or an allocation larger than a small multiple of the file.
//
// The writer knows the format only, not models (src/store/export_gguf.h maps a model onto it).
// Tensor data is produced on demand while the file is written, so exporting holds one tensor's
// bytes at a time, and the file is written atomically (core/file.h AtomicFile).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/file.h"

namespace tlm {

// Metadata value types, numbered as in the GGUF specification.
enum class GgufType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};

// Tensor element types (ggml_type numbers) the writer produces; the writer takes the bytes as
// given. The reader knows the sizes of every common ggml type (quantized ones included, so a
// llama.cpp file parses) and reads f32, f16, bf16 and q8_0 data.
enum class GgmlType : uint32_t { f32 = 0, f16 = 1, q8_0 = 8, bf16 = 30 };
size_t ggml_block_size(GgmlType t);   // elements per block (1, or 32 for q8_0)
size_t ggml_block_bytes(GgmlType t);  // bytes per block
const char* ggml_type_name(GgmlType t);  // "f32", "f16", "q8_0", "bf16"

// IEEE binary16 with round-to-nearest-even (ggml's GGML_FP32_TO_FP16), overflow to infinity.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
// bfloat16 (ggml's GGML_FP32_TO_BF16): the top 16 bits rounded to nearest even; a NaN stays a
// (quiet) NaN instead of rounding into infinity.
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t b);

// q8_0 (ggml's block_q8_0, quantize_row_q8_0_ref): blocks of 32 values, each stored as an fp16
// scale d = max|x| / 127 followed by 32 int8 q = round(x / d) (34 bytes); x = q * d back.
// n must be a multiple of 32; `out` holds n / 32 * 34 bytes.
constexpr size_t kQ8Block = 32, kQ8BlockBytes = 34;
void quantize_row_q8_0(const float* x, uint8_t* out, size_t n);
void dequantize_row_q8_0(const uint8_t* in, float* y, size_t n);

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
  // `produce` returns the tensor's bytes (product(dims) / block size * block bytes) when the data
  // is written; a wrong size, or dims[0] not a multiple of the type's block, is an internal error.
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

// ------------------------------------------------------------------ reading

// One metadata value. Views point into the file's mapping (valid while the GgufFile lives).
struct GgufValue {
  GgufType type = GgufType::u8;
  std::string_view raw;   // a scalar's bytes; a string's content; an array of scalars' packed elements
  GgufType elem = GgufType::u8;  // arrays: the element type
  uint64_t count = 0;            // arrays: the element count
  std::vector<std::string_view> strings;  // arrays of strings
  std::vector<GgufValue> items;           // arrays of arrays
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // fastest-varying first
  uint32_t type = 0;           // ggml_type number
  uint64_t elements = 0;
  uint64_t offset = 0;  // absolute, in the file
  uint64_t bytes = 0;
};

class GgufFile {
 public:
  // Maps and validates `path`; UserError naming it for anything malformed.
  explicit GgufFile(const std::string& path);
  GgufFile(GgufFile&&) = default;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_start() const { return data_start_; }
  const std::vector<std::string>& keys() const { return keys_; }  // in file order
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;

  // Typed access; a missing key or another type is a UserError naming the file and key.
  // Integers of any integer type convert when the value fits.
  uint64_t get_uint(const std::string& key) const;
  double get_float(const std::string& key) const;  // f32 or f64
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<std::string> get_strings(const std::string& key) const;
  std::vector<int64_t> get_ints(const std::string& key) const;  // an array of integers

  // The tensor's elements as f32 (types f32, f16, bf16, q8_0; others are a UserError). `out` holds
  // t.elements floats.
  void read_f32(const GgufTensorInfo& t, float* out) const;

 private:
  const GgufValue& need(const std::string& key) const;
  std::string path_;
  MappedFile map_;
  uint32_t version_ = 0, alignment_ = 32;
  uint64_t data_start_ = 0;
  std::vector<std::string> keys_;
  std::unordered_map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// True if the file at `path` starts with the GGUF magic (false if it cannot be read).
bool is_gguf_file(const std::string& path);

}  // namespace tlm
