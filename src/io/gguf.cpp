// GGUF v3 writer (see gguf.h). Everything is serialized little-endian by appending bytes to
// strings; the host is little-endian (checked at compile time), so integers are copied as is.
#include "io/gguf.h"

#include <bit>
#include <cstring>
#include <cmath>

#include "core/check.h"
#include "core/file.h"

namespace tlm {

static_assert(std::endian::native == std::endian::little, "GGUF is written little-endian");

namespace {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

uint32_t f32_bits(float f) { return std::bit_cast<uint32_t>(f); }
float bits_f32(uint32_t u) { return std::bit_cast<float>(u); }

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

size_t ggml_block_size(GgmlType t) { return t == GgmlType::q8_0 ? kQ8Block : 1; }

size_t ggml_block_bytes(GgmlType t) {
  switch (t) {
    case GgmlType::f32: return 4;
    case GgmlType::f16: return 2;
    case GgmlType::bf16: return 2;
    case GgmlType::q8_0: return kQ8BlockBytes;
  }
  TLM_CHECK(false, "unknown ggml type %u", unsigned(t));
  return 0;
}

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::f32: return "f32";
    case GgmlType::f16: return "f16";
    case GgmlType::bf16: return "bf16";
    case GgmlType::q8_0: return "q8_0";
  }
  return "?";
}

// ggml's portable conversion (ggml-impl.h, after the FP16 library): scaling by 2^112 and 2^-110
// makes the float unit do the rounding to nearest even, subnormals and overflow included.
uint16_t float_to_half(float f) {
  const float scale_to_inf = 0x1.0p+112f, scale_to_zero = 0x1.0p-110f;
  float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;
  const uint32_t w = f32_bits(f), shl1_w = w + w, sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = bits_f32((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = f32_bits(base);
  const uint32_t nonsign = ((bits >> 13) & 0x7C00u) + (bits & 0x0FFFu);
  return uint16_t((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

float half_to_float(uint16_t h) {
  const uint32_t w = uint32_t(h) << 16, sign = w & 0x80000000u, two_w = w + w;
  const float normalized = bits_f32((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  const float denormalized = bits_f32((two_w >> 17) | (126u << 23)) - 0.5f;
  return bits_f32(sign | (two_w < (1u << 27) ? f32_bits(denormalized) : f32_bits(normalized)));
}

uint16_t float_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 64);  // NaN: keep it, made quiet
  return uint16_t((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
}

float bf16_to_float(uint16_t b) { return bits_f32(uint32_t(b) << 16); }

// As ggml's quantize_row_q8_0_ref, operation for operation (so our q8_0 files are byte-identical
// to llama.cpp's from the same f32 values): the scale is computed in f32 and stored rounded to
// fp16, but the quants are rounded with the unrounded 1/d.
void quantize_row_q8_0(const float* x, uint8_t* out, size_t n) {
  TLM_CHECK(n % kQ8Block == 0, "q8_0 row of %zu values is not a multiple of %zu", n, kQ8Block);
  for (size_t b = 0; b < n / kQ8Block; b++) {
    const float* xb = x + b * kQ8Block;
    uint8_t* ob = out + b * kQ8BlockBytes;
    float amax = 0.0f;
    for (size_t j = 0; j < kQ8Block; j++) {
      const float v = std::fabs(xb[j]);
      amax = amax > v ? amax : v;  // ggml's MAX(amax, v): a NaN propagates as there
    }
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = float_to_half(d);
    std::memcpy(ob, &dh, 2);
    for (size_t j = 0; j < kQ8Block; j++) ob[2 + j] = uint8_t(int8_t(std::roundf(xb[j] * id)));
  }
}

void dequantize_row_q8_0(const uint8_t* in, float* y, size_t n) {
  TLM_CHECK(n % kQ8Block == 0, "q8_0 row of %zu values is not a multiple of %zu", n, kQ8Block);
  for (size_t b = 0; b < n / kQ8Block; b++) {
    const uint8_t* ib = in + b * kQ8BlockBytes;
    uint16_t dh;
    std::memcpy(&dh, ib, 2);
    const float d = half_to_float(dh);
    for (size_t j = 0; j < kQ8Block; j++) y[b * kQ8Block + j] = float(int8_t(ib[2 + j])) * d;
  }
}

void GgufWriter::begin_kv(const std::string& key, GgufType type) {
  for (const std::string& k : keys_) TLM_CHECK(k != key, "duplicate GGUF key %s", key.c_str());
  keys_.push_back(key);
  put_string(kv_, key);
  put<uint32_t>(kv_, uint32_t(type));
  ++n_kv_;
}

void GgufWriter::add_u32(const std::string& key, uint32_t v) { begin_kv(key, GgufType::u32); put(kv_, v); }
void GgufWriter::add_i32(const std::string& key, int32_t v) { begin_kv(key, GgufType::i32); put(kv_, v); }
void GgufWriter::add_f32(const std::string& key, float v) { begin_kv(key, GgufType::f32); put(kv_, v); }
void GgufWriter::add_bool(const std::string& key, bool v) { begin_kv(key, GgufType::boolean); put<uint8_t>(kv_, v ? 1 : 0); }
void GgufWriter::add_string(const std::string& key, const std::string& v) {
  begin_kv(key, GgufType::string);
  put_string(kv_, v);
}

void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
  begin_kv(key, GgufType::array);
  put<uint32_t>(kv_, uint32_t(GgufType::string));
  put<uint64_t>(kv_, v.size());
  for (const std::string& s : v) put_string(kv_, s);
}

void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  begin_kv(key, GgufType::array);
  put<uint32_t>(kv_, uint32_t(GgufType::i32));
  put<uint64_t>(kv_, v.size());
  for (int32_t x : v) put(kv_, x);
}

void GgufWriter::add_f32_array(const std::string& key, const std::vector<float>& v) {
  begin_kv(key, GgufType::array);
  put<uint32_t>(kv_, uint32_t(GgufType::f32));
  put<uint64_t>(kv_, v.size());
  for (float x : v) put(kv_, x);
}

void GgufWriter::set_alignment(uint32_t a) {
  TLM_CHECK(a > 0 && (a & (a - 1)) == 0, "GGUF alignment %u is not a power of two", a);
  alignment_ = a;
  add_u32("general.alignment", a);
}

void GgufWriter::add_tensor(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                            std::function<std::string()> produce) {
  TLM_CHECK(!dims.empty() && dims.size() <= 4, "GGUF tensor %s has %zu dims", name.c_str(), dims.size());
  for (const Tensor& t : tensors_) TLM_CHECK(t.name != name, "duplicate GGUF tensor %s", name.c_str());
  TLM_CHECK(dims[0] % ggml_block_size(type) == 0, "GGUF tensor %s: row of %llu is not a multiple of the %s block",
            name.c_str(), static_cast<unsigned long long>(dims[0]), ggml_type_name(type));
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  tensors_.push_back({name, std::move(dims), type, n / ggml_block_size(type) * ggml_block_bytes(type), std::move(produce)});
}

void GgufWriter::write(const std::string& path) const {
  std::string head;
  head += "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, n_kv_);
  head += kv_;
  uint64_t offset = 0;  // relative to the start of the data section
  for (const Tensor& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, uint32_t(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(head, d);
    put<uint32_t>(head, uint32_t(t.type));
    put<uint64_t>(head, offset);
    offset = align_up(offset + t.bytes, alignment_);
  }
  head.resize(align_up(head.size(), alignment_), '\0');

  AtomicFile file(path);
  file.write(head);
  for (const Tensor& t : tensors_) {
    std::string data = t.produce();
    TLM_CHECK(data.size() == t.bytes, "GGUF tensor %s: %zu bytes, expected %llu", t.name.c_str(), data.size(),
              static_cast<unsigned long long>(t.bytes));
    data.resize(align_up(data.size(), alignment_), '\0');
    file.write(data);
  }
  file.commit();
}

}  // namespace tlm
