// safetensors reading and writing (see safetensors.h for the format and the checks).
//
// The reader never trusts a number from the file: the header length is bounded by the file size
// and a fixed cap before anything is parsed, the JSON is parsed without exceptions (a nlohmann
// exception from a wrong-typed field is caught and turned into a UserError), every shape
// product and byte count is computed with overflow checks, and the tensors' byte ranges are
// checked to lie inside the data section without overlapping. Unknown keys inside a tensor entry
// are ignored, as the reference (Rust) implementation does; gaps between tensors are allowed.
// Duplicate tensor names are refused (nlohmann would silently keep the last one).
//
// The writer builds the header with ordered_json so tensors appear in the caller's order, and pads
// it with spaces so the data section starts 8-byte aligned, as the format recommends.
#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/check.h"

namespace tlm {

namespace {

// Bigger headers are not produced by any real tool (HF caps at 100 MB too); the cap keeps a hostile
// length from making us parse gigabytes of JSON.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8};

bool parse_dtype(const std::string& s, DType* out) {
  for (DType t : kAllDTypes) {
    if (s == dtype_name(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

// A JSON number that is a non-negative integer (nlohmann parses "3" as unsigned, "-3" as
// integer, "3.0" as float: only the first is a valid size or offset).
bool as_size(const nlohmann::json& j, size_t* out) {
  if (!j.is_number_unsigned()) return false;
  uint64_t v = j.get<uint64_t>();
  if (v > SIZE_MAX) return false;
  *out = static_cast<size_t>(v);
  return true;
}

std::string shape_string(const std::vector<size_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      // Subnormal half: normalise into a float32 normal.
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;  // inf or NaN (payload kept)
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_f32(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  TLM_CHECK(false, "unknown DType %d", static_cast<int>(t));
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  TLM_CHECK(false, "unknown DType %d", static_cast<int>(t));
  return "";
}

void write_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  std::vector<size_t> bytes(tensors.size());
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorOut& t = tensors[i];
    TLM_CHECK(t.name != "__metadata__" && names.insert(t.name).second, "tensor name '%s' repeated or reserved",
              t.name.c_str());
    size_t n = dtype_size(t.dtype);
    for (size_t d : t.shape) n *= d;
    TLM_CHECK(n == 0 || t.data != nullptr, "tensor '%s' has no data", t.name.c_str());
    bytes[i] = n;
    nlohmann::ordered_json e;
    e["dtype"] = dtype_name(t.dtype);
    e["shape"] = t.shape;
    e["data_offsets"] = {offset, offset + n};
    header[t.name] = std::move(e);
    offset += n;
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {
    // Only a name or metadata string that is not UTF-8 gets here.
    throw user_error(path, "cannot write safetensors header: %s", e.what());
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  char len[8];
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);

  AtomicFile out(path);
  out.write(std::string_view(len, 8));
  out.write(json);
  for (size_t i = 0; i < tensors.size(); ++i)
    out.write(std::string_view(static_cast<const char*>(tensors[i].data), bytes[i]));
  out.commit();
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), map_(path) {
  bytes_ = map_.view();
  parse();
}

SafetensorsFile SafetensorsFile::from_bytes(std::string_view bytes, const std::string& name) {
  SafetensorsFile f;
  f.path_ = name;
  f.bytes_ = bytes;
  f.parse();
  return f;
}

void SafetensorsFile::parse() {
  const std::string& file = path_;
  if (bytes_.size() < 8)
    throw user_error(file, "not a safetensors file: %zu bytes, shorter than the 8-byte header length",
                     bytes_.size());
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(static_cast<unsigned char>(bytes_[i])) << (8 * i);
  if (header_len > bytes_.size() - 8)
    throw user_error(file, "safetensors header length %llu exceeds the file (%zu bytes): truncated or not safetensors",
                     static_cast<unsigned long long>(header_len), bytes_.size());
  if (header_len > kMaxHeaderBytes)
    throw user_error(file, "safetensors header length %llu exceeds the limit of %llu bytes",
                     static_cast<unsigned long long>(header_len), static_cast<unsigned long long>(kMaxHeaderBytes));
  std::string_view header_text = bytes_.substr(8, header_len);
  const size_t data_start = 8 + header_len;
  const size_t data_size = bytes_.size() - data_start;

  // Duplicate top-level keys are seen through the parser callback (depth 1 = the header object).
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  nlohmann::json header = nlohmann::json::parse(header_text.begin(), header_text.end(), callback,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded()) throw user_error(file, "safetensors header is not valid JSON");
  if (!header.is_object()) throw user_error(file, "safetensors header is not a JSON object");
  if (!duplicate.empty()) throw user_error(file, "tensor '%s' appears twice in the safetensors header", duplicate.c_str());

  try {
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& e = it.value();
      if (name == "__metadata__") {
        if (e.is_null()) continue;
        if (!e.is_object()) throw user_error(file, "__metadata__ is not a JSON object");
        for (auto m = e.begin(); m != e.end(); ++m) {
          if (!m.value().is_string())
            throw user_error(file, "__metadata__ value '%s' is not a string", m.key().c_str());
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      const char* tn = name.c_str();
      if (!e.is_object()) throw user_error(file, "tensor '%s': entry is not a JSON object", tn);
      auto dt = e.find("dtype"), sh = e.find("shape"), off = e.find("data_offsets");
      if (dt == e.end() || sh == e.end() || off == e.end())
        throw user_error(file, "tensor '%s': entry needs dtype, shape and data_offsets", tn);
      TensorIn t;
      t.name = name;
      if (!dt->is_string()) throw user_error(file, "tensor '%s': dtype is not a string", tn);
      if (!parse_dtype(dt->get<std::string>(), &t.dtype))
        throw user_error(file, "tensor '%s': unsupported dtype '%s' (F32, F16, BF16, I32, I64, U8 are)", tn,
                         dt->get<std::string>().c_str());
      if (!sh->is_array()) throw user_error(file, "tensor '%s': shape is not an array", tn);
      size_t count = 1;
      for (const nlohmann::json& d : *sh) {
        size_t v;
        if (!as_size(d, &v)) throw user_error(file, "tensor '%s': shape holds %s, not a non-negative integer", tn,
                                              d.dump().c_str());
        t.shape.push_back(v);
        if (__builtin_mul_overflow(count, v, &count))
          throw user_error(file, "tensor '%s': shape %s overflows", tn, sh->dump().c_str());
      }
      size_t expect_bytes;
      if (__builtin_mul_overflow(count, dtype_size(t.dtype), &expect_bytes))
        throw user_error(file, "tensor '%s': shape %s overflows", tn, sh->dump().c_str());
      size_t begin, end;
      if (!off->is_array() || off->size() != 2 || !as_size((*off)[0], &begin) || !as_size((*off)[1], &end))
        throw user_error(file, "tensor '%s': data_offsets is not [begin, end] of non-negative integers", tn);
      if (begin > end) throw user_error(file, "tensor '%s': data_offsets [%zu, %zu] end before they begin", tn, begin, end);
      if (end > data_size)
        throw user_error(file, "tensor '%s': data_offsets [%zu, %zu] beyond the %zu data bytes (truncated file?)", tn,
                         begin, end, data_size);
      if (end - begin != expect_bytes)
        throw user_error(file, "tensor '%s': %zu data bytes, but %s %s needs %zu", tn, end - begin,
                         dtype_name(t.dtype), shape_string(t.shape).c_str(), expect_bytes);
      t.offset = data_start + begin;
      t.bytes = expect_bytes;
      tensors_.push_back(std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    // Defensive: every access above is type-checked first, so this should not happen.
    throw user_error(file, "safetensors header: %s", e.what());
  }

  // File order (by offset), which is the writer's order; empty tensors do not occupy bytes.
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorIn& a, const TensorIn& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.bytes != b.bytes ? a.bytes < b.bytes : a.name < b.name;
  });
  const TensorIn* prev = nullptr;
  for (const TensorIn& t : tensors_) {
    if (t.bytes == 0) continue;
    if (prev && t.offset < prev->offset + prev->bytes)
      throw user_error(file, "tensor '%s' overlaps tensor '%s' in the data section", t.name.c_str(),
                       prev->name.c_str());
    prev = &t;
  }
}

const TensorIn* SafetensorsFile::find(const std::string& name) const {
  for (const TensorIn& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::span<const std::byte> SafetensorsFile::data(const TensorIn& t) const {
  return {reinterpret_cast<const std::byte*>(bytes_.data()) + t.offset, t.bytes};
}

void SafetensorsFile::read_f32(const std::string& name, const std::vector<size_t>& shape, float* out) const {
  const TensorIn* t = find(name);
  if (!t) throw user_error(path_, "tensor '%s' is missing", name.c_str());
  if (t->shape != shape)
    throw user_error(path_, "tensor '%s' has shape %s, expected %s", name.c_str(), shape_string(t->shape).c_str(),
                     shape_string(shape).c_str());
  const char* src = bytes_.data() + t->offset;
  switch (t->dtype) {
    case DType::F32:
      // The data section may be unaligned in files from other tools; an empty tensor copies
      // nothing (and `out` may then be null).
      if (t->bytes > 0) std::memcpy(out, src, t->bytes);
      return;
    case DType::F16:
    case DType::BF16: {
      size_t n = t->bytes / 2;
      bool half = t->dtype == DType::F16;
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = half ? f16_to_f32(v) : bf16_to_f32(v);
      }
      return;
    }
    default:
      throw user_error(path_, "tensor '%s' has dtype %s, expected a float type (F32, F16 or BF16)", name.c_str(),
                       dtype_name(t->dtype));
  }
}

}  // namespace tlm
