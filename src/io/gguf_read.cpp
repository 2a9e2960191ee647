// GGUF reader (see gguf.h). One cursor walks the mapped bytes; every read first checks that
// the bytes are there (`need`), and every count is compared with what the rest of the file
// could possibly hold before anything is sized by it, so no loop runs and no vector grows past
// a small multiple of the file size, whatever the header claims. Arithmetic on file values is
// done where it cannot overflow (divisions against the remaining size, or explicit checks).
// Names and keys from the file are quoted escaped and truncated, so an error stays one line.
#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/check.h"
#include "io/gguf.h"

namespace tlm {

namespace {

constexpr int kMaxArrayDepth = 8;  // arrays of arrays; real files use none
constexpr uint32_t kMaxDims = 4;   // GGML_MAX_DIMS

// Block size (elements) and bytes per block of each ggml type the reader can size; 0 if unknown.
struct TypeSize {
  uint32_t block, bytes;
};
TypeSize ggml_size(uint32_t t) {
  switch (t) {
    case 0: return {1, 4};      // f32
    case 1: return {1, 2};      // f16
    case 2: return {32, 18};    // q4_0
    case 3: return {32, 20};    // q4_1
    case 6: return {32, 22};    // q5_0
    case 7: return {32, 24};    // q5_1
    case 8: return {32, 34};    // q8_0
    case 9: return {32, 36};    // q8_1
    case 10: return {256, 84};  // q2_K
    case 11: return {256, 110}; // q3_K
    case 12: return {256, 144}; // q4_K
    case 13: return {256, 176}; // q5_K
    case 14: return {256, 210}; // q6_K
    case 15: return {256, 292}; // q8_K
    case 24: return {1, 1};     // i8
    case 25: return {1, 2};     // i16
    case 26: return {1, 4};     // i32
    case 27: return {1, 8};     // i64
    case 28: return {1, 8};     // f64
    case 30: return {1, 2};     // bf16
  }
  return {0, 0};
}

// Size of a scalar metadata value; 0 for string/array/unknown.
size_t scalar_size(uint32_t t) {
  switch (GgufType(t)) {
    case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
    case GgufType::u16: case GgufType::i16: return 2;
    case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
    case GgufType::u64: case GgufType::i64: case GgufType::f64: return 8;
    default: return 0;
  }
}

bool known_type(uint32_t t) { return t <= uint32_t(GgufType::f64); }

// A name from the file, fit for a one-line message.
std::string quoted(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 80; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\'') {
      out += char(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02X", c);
      out += b;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

struct Cursor {
  const std::string& path;
  std::string_view b;
  size_t pos = 0;

  size_t left() const { return b.size() - pos; }
  void need(uint64_t n, const char* what) const {
    if (n > left())
      throw user_error(path, "truncated: %s needs %llu bytes at offset %zu, the file has %zu left", what,
                       static_cast<unsigned long long>(n), pos, left());
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string_view bytes(uint64_t n, const char* what) {
    need(n, what);
    std::string_view v = b.substr(pos, size_t(n));
    pos += size_t(n);
    return v;
  }
  std::string_view str(const char* what) {
    uint64_t n = get<uint64_t>(what);
    if (n > left())
      throw user_error(path, "%s: string length %llu at offset %zu runs past the end of the file", what,
                       static_cast<unsigned long long>(n), pos - 8);
    return bytes(n, what);
  }

  GgufValue value(uint32_t type, const std::string& key, int depth) {
    GgufValue v;
    if (!known_type(type)) throw user_error(path, "metadata %s: unknown value type %u", quoted(key).c_str(), type);
    v.type = GgufType(type);
    if (size_t s = scalar_size(type)) {
      v.raw = bytes(s, "a metadata value");
      if (v.type == GgufType::boolean && uint8_t(v.raw[0]) > 1)
        throw user_error(path, "metadata %s: boolean byte %u is neither 0 nor 1", quoted(key).c_str(), uint8_t(v.raw[0]));
      return v;
    }
    if (v.type == GgufType::string) {
      v.raw = str("a metadata string");
      return v;
    }
    // An array: element type, count, elements.
    if (depth >= kMaxArrayDepth)
      throw user_error(path, "metadata %s: arrays nested deeper than %d", quoted(key).c_str(), kMaxArrayDepth);
    uint32_t et = get<uint32_t>("an array type");
    if (!known_type(et)) throw user_error(path, "metadata %s: unknown array element type %u", quoted(key).c_str(), et);
    v.elem = GgufType(et);
    v.count = get<uint64_t>("an array length");
    // The smallest an element can be: a scalar's size, a string's length field, an array's
    // type and count. A count the rest of the file cannot hold is refused before any loop.
    const size_t min_size = scalar_size(et) ? scalar_size(et) : v.elem == GgufType::string ? 8 : 12;
    if (v.count > left() / min_size)
      throw user_error(path, "metadata %s: array of %llu elements cannot fit in the %zu bytes left", quoted(key).c_str(),
                       static_cast<unsigned long long>(v.count), left());
    if (scalar_size(et)) {
      v.raw = bytes(v.count * min_size, "an array");
      if (v.elem == GgufType::boolean)
        for (char c : v.raw)
          if (uint8_t(c) > 1) throw user_error(path, "metadata %s: boolean byte %u is neither 0 nor 1", quoted(key).c_str(), uint8_t(c));
    } else if (v.elem == GgufType::string) {
      v.strings.reserve(size_t(v.count));
      for (uint64_t i = 0; i < v.count; i++) v.strings.push_back(str("an array string"));
    } else {
      v.items.reserve(size_t(v.count));
      for (uint64_t i = 0; i < v.count; i++) v.items.push_back(value(et, key, depth + 1));
    }
    return v;
  }
};

template <class T>
T load(std::string_view raw, size_t i = 0) {
  T v;
  std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
  return v;
}

// An integer value as int64 (u64 above INT64_MAX is refused by the caller's range check).
bool integer_of(GgufType t, std::string_view raw, size_t i, int64_t& out, uint64_t& uout, bool& is_unsigned) {
  is_unsigned = false;
  switch (t) {
    case GgufType::u8: uout = load<uint8_t>(raw, i); is_unsigned = true; return true;
    case GgufType::u16: uout = load<uint16_t>(raw, i); is_unsigned = true; return true;
    case GgufType::u32: uout = load<uint32_t>(raw, i); is_unsigned = true; return true;
    case GgufType::u64: uout = load<uint64_t>(raw, i); is_unsigned = true; return true;
    case GgufType::i8: out = load<int8_t>(raw, i); return true;
    case GgufType::i16: out = load<int16_t>(raw, i); return true;
    case GgufType::i32: out = load<int32_t>(raw, i); return true;
    case GgufType::i64: out = load<int64_t>(raw, i); return true;
    default: return false;
  }
}

}  // namespace

GgufFile::GgufFile(const std::string& path) : path_(path), map_(path) {
  Cursor c{path_, map_.view()};
  if (c.b.size() < 4 || c.b.substr(0, 4) != "GGUF") throw user_error(path_, "not a GGUF file (no \"GGUF\" magic)");
  c.pos = 4;
  version_ = c.get<uint32_t>("the version");
  if (version_ != 2 && version_ != 3) throw user_error(path_, "GGUF version %u is not supported (2 or 3)", version_);
  const uint64_t n_tensors = c.get<uint64_t>("the tensor count");
  const uint64_t n_kv = c.get<uint64_t>("the metadata count");
  // A key-value pair takes at least 13 bytes (key length, type, a 1-byte value), a tensor info
  // at least 32 (name length, dim count, one dim, type, offset).
  if (n_kv > c.left() / 13)
    throw user_error(path_, "%llu metadata entries cannot fit in a %zu-byte file", static_cast<unsigned long long>(n_kv),
                     c.b.size());
  if (n_tensors > c.left() / 32)
    throw user_error(path_, "%llu tensors cannot fit in a %zu-byte file", static_cast<unsigned long long>(n_tensors),
                     c.b.size());
  for (uint64_t i = 0; i < n_kv; i++) {
    std::string key(c.str("a metadata key"));
    uint32_t type = c.get<uint32_t>("a metadata type");
    GgufValue v = c.value(type, key, 0);
    if (!kv_.emplace(key, std::move(v)).second) throw user_error(path_, "duplicate metadata key %s", quoted(key).c_str());
    keys_.push_back(std::move(key));
  }
  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufType::u32) throw user_error(path_, "general.alignment is not a u32");
    alignment_ = load<uint32_t>(a->raw);
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0)
      throw user_error(path_, "general.alignment %u is not a power of two", alignment_);
  }

  for (uint64_t i = 0; i < n_tensors; i++) {
    GgufTensorInfo t;
    t.name = std::string(c.str("a tensor name"));
    const uint32_t nd = c.get<uint32_t>("a tensor's dimension count");
    if (nd == 0 || nd > kMaxDims)
      throw user_error(path_, "tensor %s has %u dimensions (1 to %u)", quoted(t.name).c_str(), nd, kMaxDims);
    t.elements = 1;
    bool zero = false;
    for (uint32_t d = 0; d < nd; d++) {
      const uint64_t n = c.get<uint64_t>("a tensor dimension");
      if (n > uint64_t(std::numeric_limits<int64_t>::max()))
        throw user_error(path_, "tensor %s: dimension %llu is out of range", quoted(t.name).c_str(),
                         static_cast<unsigned long long>(n));
      zero |= n == 0;
      // ggml counts elements in int64: the product must stay below 2^63.
      if (!zero && t.elements > uint64_t(std::numeric_limits<int64_t>::max()) / n)
        throw user_error(path_, "tensor %s: the dimensions' product overflows", quoted(t.name).c_str());
      t.elements = zero ? 0 : t.elements * n;
      t.dims.push_back(n);
    }
    t.type = c.get<uint32_t>("a tensor type");
    const TypeSize ts = ggml_size(t.type);
    if (ts.block == 0) throw user_error(path_, "tensor %s: unknown ggml type %u", quoted(t.name).c_str(), t.type);
    if (t.dims[0] % ts.block != 0)
      throw user_error(path_, "tensor %s: row length %llu is not a multiple of its type's block size %u",
                       quoted(t.name).c_str(), static_cast<unsigned long long>(t.dims[0]), ts.block);
    // elements < 2^63 and bytes per element <= 9: the product fits in 64 bits.
    t.bytes = t.elements / ts.block * ts.bytes;
    t.offset = c.get<uint64_t>("a tensor offset");
    if (!tensor_index_.emplace(t.name, tensors_.size()).second)
      throw user_error(path_, "duplicate tensor name %s", quoted(t.name).c_str());
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment (pos <= size < 2^63, so no overflow).
  data_start_ = (uint64_t(c.pos) + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t size = c.b.size();
  if (!tensors_.empty() && data_start_ > size)
    throw user_error(path_, "truncated: the data section would start at %llu, past the end (%llu bytes)",
                     static_cast<unsigned long long>(data_start_), static_cast<unsigned long long>(size));
  const uint64_t data_size = data_start_ <= size ? size - data_start_ : 0;
  std::vector<const GgufTensorInfo*> by_offset;
  for (GgufTensorInfo& t : tensors_) {
    if (t.offset % alignment_ != 0)
      throw user_error(path_, "tensor %s: offset %llu is not a multiple of the alignment %u", quoted(t.name).c_str(),
                       static_cast<unsigned long long>(t.offset), alignment_);
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      throw user_error(path_, "tensor %s: %llu bytes at data offset %llu run past the end of the file (%llu data bytes)",
                       quoted(t.name).c_str(), static_cast<unsigned long long>(t.bytes),
                       static_cast<unsigned long long>(t.offset), static_cast<unsigned long long>(data_size));
    t.offset += data_start_;
    if (t.bytes) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); i++)
    if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->bytes)
      throw user_error(path_, "tensors %s and %s overlap", quoted(by_offset[i - 1]->name).c_str(),
                       quoted(by_offset[i]->name).c_str());
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufValue& GgufFile::need(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) throw user_error(path_, "no metadata key %s", key.c_str());
  return *v;
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = need(key);
  int64_t i = 0;
  uint64_t u = 0;
  bool is_unsigned = false;
  if (!integer_of(v.type, v.raw, 0, i, u, is_unsigned)) throw user_error(path_, "%s is not an integer", key.c_str());
  if (!is_unsigned) {
    if (i < 0) throw user_error(path_, "%s is negative (%lld)", key.c_str(), static_cast<long long>(i));
    u = uint64_t(i);
  }
  return u;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = need(key);
  if (v.type == GgufType::f32) return load<float>(v.raw);
  if (v.type == GgufType::f64) return load<double>(v.raw);
  throw user_error(path_, "%s is not a float", key.c_str());
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = need(key);
  if (v.type != GgufType::boolean) throw user_error(path_, "%s is not a boolean", key.c_str());
  return v.raw[0] != 0;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = need(key);
  if (v.type != GgufType::string) throw user_error(path_, "%s is not a string", key.c_str());
  return std::string(v.raw);
}

std::vector<std::string> GgufFile::get_strings(const std::string& key) const {
  const GgufValue& v = need(key);
  if (v.type != GgufType::array || v.elem != GgufType::string)
    throw user_error(path_, "%s is not an array of strings", key.c_str());
  return {v.strings.begin(), v.strings.end()};
}

std::vector<int64_t> GgufFile::get_ints(const std::string& key) const {
  const GgufValue& v = need(key);
  int64_t i = 0;
  uint64_t u = 0;
  bool is_unsigned = false;
  const bool integers = v.elem != GgufType::f32 && v.elem != GgufType::f64 && v.elem != GgufType::boolean &&
                        scalar_size(uint32_t(v.elem)) > 0;
  if (v.type != GgufType::array || !integers)
    throw user_error(path_, "%s is not an array of integers", key.c_str());
  std::vector<int64_t> out(size_t(v.count));
  for (size_t k = 0; k < out.size(); k++) {
    integer_of(v.elem, v.raw, k, i, u, is_unsigned);
    if (is_unsigned && u > uint64_t(std::numeric_limits<int64_t>::max()))
      throw user_error(path_, "%s[%zu] is out of range", key.c_str(), k);
    out[k] = is_unsigned ? int64_t(u) : i;
  }
  return out;
}

void GgufFile::read_f32(const GgufTensorInfo& t, float* out) const {
  const char* p = map_.data() + t.offset;
  if (t.elements == 0 && (t.type == 0 || t.type == 1 || t.type == 8 || t.type == 30)) return;  // memcpy of nothing from null is UB
  switch (t.type) {
    case uint32_t(GgmlType::f32): std::memcpy(out, p, t.elements * 4); return;
    case uint32_t(GgmlType::f16):
      for (uint64_t i = 0; i < t.elements; i++) out[i] = half_to_float(load<uint16_t>({p, t.bytes}, i));
      return;
    case uint32_t(GgmlType::bf16):
      for (uint64_t i = 0; i < t.elements; i++)
        out[i] = std::bit_cast<float>(uint32_t(load<uint16_t>({p, t.bytes}, i)) << 16);
      return;
    case uint32_t(GgmlType::q8_0):
      // The parser checked dims[0] % 32 == 0 and bytes == elements / 32 * 34 inside the file.
      dequantize_row_q8_0(reinterpret_cast<const uint8_t*>(p), out, t.elements);
      return;
  }
  throw user_error(path_, "tensor %s: ggml type %u cannot be read (f32, f16, bf16 and q8_0 can)", quoted(t.name).c_str(), t.type);
}

bool is_gguf_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace tlm
