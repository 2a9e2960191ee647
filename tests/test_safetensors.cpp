// safetensors reader/writer and parameter save/load: round trips, metadata, every kind of
// corrupt file the reader must refuse (each with a one-line UserError naming the file and, where
// there is one, the tensor), F16/BF16 conversion, and interoperability with a Python reader.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/check.h"
#include "fixtures.h"
#include "io/safetensors.h"
#include "store/params_io.h"

namespace tlm {
namespace {

using testing::TempDir;

// Raw file bytes from a header text and a data section (the header is not padded unless asked).
std::string raw_file(const std::string& header, const std::string& data, bool pad = false) {
  std::string h = header;
  if (pad) h.append((8 - h.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  return out + h + data;
}

// Expects from_bytes to throw a UserError whose message names the file and contains `part`.
void expect_refused(const std::string& bytes, const std::string& part) {
  SCOPED_TRACE(part);
  try {
    SafetensorsFile::from_bytes(bytes, "bad.safetensors");
    ADD_FAILURE() << "accepted a corrupt file (expected an error containing '" << part << "')";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "bad.safetensors");
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

TEST(Safetensors, RoundTripKeepsOrderShapesDataAndAlignment) {
  TempDir tmp;
  std::vector<float> a(2 * 3);
  std::iota(a.begin(), a.end(), -2.5f);
  std::vector<int32_t> b = {7, -8, 9};
  std::vector<int64_t> c = {int64_t(1) << 40};
  std::vector<uint8_t> d = {1, 2, 3, 4, 5};
  std::vector<uint16_t> e = {0x3c00, 0xc000};  // F16 1, -2
  float scalar = 42.0f;
  // Names chosen so alphabetical order differs from write order.
  std::vector<TensorOut> out = {
      {"z.weight", DType::F32, {2, 3}, a.data()}, {"b", DType::I32, {3}, b.data()},
      {"y", DType::I64, {1}, c.data()},         {"bytes", DType::U8, {5}, d.data()},
      {"empty", DType::F32, {0, 4}, nullptr},   {"half", DType::F16, {2}, e.data()},
      {"scalar", DType::F32, {}, &scalar},
  };
  std::string path = tmp / "t.safetensors";
  write_safetensors(path, out, {{"format", "pt"}, {"step", "12"}});

  SafetensorsFile f(path);
  EXPECT_EQ(f.path(), path);
  ASSERT_EQ(f.tensors().size(), out.size());
  std::string bytes = testing::slurp(path);
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u) << "data section must start 8-byte aligned";
  float last;
  std::memcpy(&last, bytes.data() + bytes.size() - 4, 4);
  EXPECT_EQ(last, 42.0f) << "the last tensor written ends the file";

  // The empty tensor takes no bytes; all others come back in write order.
  std::vector<std::string> order;
  for (const TensorIn& t : f.tensors())
    if (t.name != "empty") order.push_back(t.name);
  EXPECT_EQ(order, (std::vector<std::string>{"z.weight", "b", "y", "bytes", "half", "scalar"}));
  for (const TensorOut& o : out) {
    const TensorIn* t = f.find(o.name);
    ASSERT_NE(t, nullptr) << o.name;
    EXPECT_EQ(t->dtype, o.dtype) << o.name;
    EXPECT_EQ(t->shape, o.shape) << o.name;
    size_t n = dtype_size(o.dtype);
    for (size_t s : o.shape) n *= s;
    ASSERT_EQ(f.data(*t).size(), n) << o.name;
    if (n) {
      EXPECT_EQ(std::memcmp(f.data(*t).data(), o.data, n), 0) << o.name;
    }
  }
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"step", "12"}}));

  std::vector<float> back(6);
  f.read_f32("z.weight", {2, 3}, back.data());
  EXPECT_EQ(back, a);
  float h[2];
  f.read_f32("half", {2}, h);
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  float sc = 0;
  f.read_f32("scalar", {}, &sc);
  EXPECT_EQ(sc, 42.0f);

  // The same bytes validated in memory give the same answer.
  SafetensorsFile m = SafetensorsFile::from_bytes(bytes, "mem");
  ASSERT_EQ(m.tensors().size(), f.tensors().size());
  for (size_t i = 0; i < m.tensors().size(); ++i) {
    EXPECT_EQ(m.tensors()[i].name, f.tensors()[i].name);
    EXPECT_EQ(m.tensors()[i].offset, f.tensors()[i].offset);
  }
}

TEST(Safetensors, EmptyFileAndNoMetadata) {
  TempDir tmp;
  std::string path = tmp / "e.safetensors";
  write_safetensors(path, {});
  SafetensorsFile f(path);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_TRUE(f.metadata().empty());
  // An overwrite replaces the file atomically (no temp file left over).
  float x = 1;
  write_safetensors(path, {{"x", DType::F32, {1}, &x}});
  EXPECT_EQ(SafetensorsFile(path).tensors().size(), 1u);
  size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(tmp.path())) entries += !e.path().empty();
  EXPECT_EQ(entries, 1u);
}

// A tensor with a zero dimension holds no bytes: reading it into an empty buffer (a null
// pointer) copies nothing, in every float dtype (found by fuzz_safetensors under UBSan).
TEST(Safetensors, ZeroElementTensorsReadIntoNothing) {
  TempDir tmp;
  std::string path = tmp / "z.safetensors";
  float unused = 0;
  write_safetensors(path, {{"a", DType::F32, {0, 4}, &unused}, {"b", DType::BF16, {3, 0}, &unused}});
  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 2u);
  std::vector<float> none;
  EXPECT_NO_THROW(f.read_f32("a", {0, 4}, none.data()));
  EXPECT_NO_THROW(f.read_f32("b", {3, 0}, none.data()));
  EXPECT_THROW(f.read_f32("a", {4, 0}, none.data()), UserError);  // the shape still has to match
}

TEST(Safetensors, ReadF32RefusesMissingWrongShapeAndIntegerTensors) {
  int32_t i[2] = {1, 2};
  float x[2] = {1, 2};
  TempDir tmp;
  std::string path = tmp / "r.safetensors";
  write_safetensors(path, {{"ints", DType::I32, {2}, i}, {"x", DType::F32, {2}, x}});
  SafetensorsFile f(path);
  float out[4];
  auto expect_error = [&](const std::string& name, std::vector<size_t> shape, const std::string& part) {
    try {
      f.read_f32(name, shape, out);
      ADD_FAILURE() << "read_f32(" << name << ") accepted";
    } catch (const UserError& e) {
      EXPECT_EQ(e.input(), path);
      EXPECT_NE(std::string(e.what()).find("'" + name + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error("nope", {2}, "missing");
  expect_error("x", {1, 2}, "shape [2], expected [1, 2]");
  expect_error("x", {4}, "expected [4]");
  expect_error("ints", {2}, "dtype I32");
}

TEST(Safetensors, HalfAndBFloat16ConvertExactly) {
  // F16 bit patterns and their exact float values: normals, extremes, subnormals, signed zero.
  std::vector<uint16_t> h = {0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00, 0x7e00};
  std::vector<float> h_want = {1.0f, -2.0f, 0.333251953125f, 65504.0f, std::ldexp(1.0f, -14), std::ldexp(1.0f, -24),
                               std::ldexp(1023.0f, -24), -0.0f, INFINITY, -INFINITY, NAN};
  // BF16 is the top half of a float32.
  std::vector<uint16_t> b = {0x3f80, 0xc049, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000, 0x4780};
  std::vector<float> b_want = {1.0f, -3.140625f, std::numeric_limits<float>::denorm_min() * 65536.0f, INFINITY,
                               -INFINITY, NAN, -0.0f, 65536.0f};
  TempDir tmp;
  std::string path = tmp / "h.safetensors";
  write_safetensors(path, {{"h", DType::F16, {h.size()}, h.data()}, {"b", DType::BF16, {b.size()}, b.data()}});
  SafetensorsFile f(path);
  std::vector<float> got(h.size());
  f.read_f32("h", {h.size()}, got.data());
  for (size_t i = 0; i < h.size(); ++i) {
    if (std::isnan(h_want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << i;
    } else {
      EXPECT_EQ(got[i], h_want[i]) << "f16 0x" << std::hex << h[i];
      EXPECT_EQ(std::signbit(got[i]), std::signbit(h_want[i])) << i;
    }
  }
  got.resize(b.size());
  f.read_f32("b", {b.size()}, got.data());
  for (size_t i = 0; i < b.size(); ++i) {
    if (std::isnan(b_want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << i;
    } else {
      EXPECT_EQ(got[i], b_want[i]) << "bf16 0x" << std::hex << b[i];
      EXPECT_EQ(std::signbit(got[i]), std::signbit(b_want[i])) << i;
    }
  }
  // Every finite F16 value round-trips through float and back (checks the whole table at once:
  // the conversion is monotone and injective on finite halves).
  std::vector<uint16_t> all;
  for (uint32_t v = 0; v < 0x7c00; ++v) all.push_back(static_cast<uint16_t>(v));
  std::string p2 = tmp / "all.safetensors";
  write_safetensors(p2, {{"all", DType::F16, {all.size()}, all.data()}});
  std::vector<float> vals(all.size());
  SafetensorsFile(p2).read_f32("all", {all.size()}, vals.data());
  for (size_t i = 1; i < vals.size(); ++i) ASSERT_LT(vals[i - 1], vals[i]) << i;
  EXPECT_EQ(vals.back(), 65504.0f);
}

TEST(Safetensors, RefusesTruncatedAndOversizedHeaders) {
  expect_refused("", "shorter than the 8-byte header length");
  expect_refused(std::string("\x05\0\0", 3), "shorter than the 8-byte");
  std::string good = raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", floats({1, 2}));
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(good, "good"));
  // Truncated anywhere: inside the header, or inside the data.
  expect_refused(good.substr(0, 20), "exceeds the file");
  expect_refused(good.substr(0, good.size() - 1), "beyond the 7 data bytes");
  // A header length bigger than the file, and one past the 100 MB cap (in a file big enough to hold it,
  // so the cap itself is what refuses it).
  std::string huge = good;
  uint64_t n = uint64_t(1) << 62;
  std::memcpy(huge.data(), &n, 8);
  expect_refused(huge, "exceeds the file");
  n = 100'000'001;
  std::string big(8 + n, ' ');
  std::memcpy(big.data(), &n, 8);
  expect_refused(big, "exceeds the limit");
}

TEST(Safetensors, RefusesBadJson) {
  expect_refused(raw_file("{\"x\":", ""), "not valid JSON");
  expect_refused(raw_file("[1,2]", ""), "not a JSON object");
  expect_refused(raw_file("", ""), "not valid JSON");
  expect_refused(raw_file("{\"a\":\"\xff\"}", ""), "not valid JSON");
  expect_refused(raw_file(R"({"x":1})", ""), "tensor 'x': entry is not a JSON object");
  expect_refused(raw_file(R"({"x":{"dtype":"F32","shape":[1]}})", ""), "tensor 'x': entry needs");
  expect_refused(raw_file(R"({"x":{"dtype":7,"shape":[0],"data_offsets":[0,0]}})", ""), "dtype is not a string");
  expect_refused(raw_file(R"({"__metadata__":{"a":1}})", ""), "__metadata__ value 'a' is not a string");
  expect_refused(raw_file(R"({"__metadata__":[]})", ""), "__metadata__ is not a JSON object");
  expect_refused(raw_file(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                          R"("x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                          ""),
                 "tensor 'x' appears twice");
  // A nested duplicate key is not a duplicate tensor (only the last value of it counts).
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(
      raw_file(R"({"x":{"dtype":"I32","dtype":"F32","shape":[0],"data_offsets":[0,0]}})", ""), "ok"));
}

TEST(Safetensors, RefusesBadEntries) {
  const std::string d8 = floats({1, 2});
  auto entry = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return R"({"t.w":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
  };
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(raw_file(entry("F32", "[2]", "[0,8]"), d8), "ok"));
  // Unknown dtypes (real safetensors dtypes we do not read, and nonsense).
  expect_refused(raw_file(entry("F64", "[1]", "[0,8]"), d8), "tensor 't.w': unsupported dtype 'F64'");
  expect_refused(raw_file(entry("f32", "[2]", "[0,8]"), d8), "unsupported dtype 'f32'");
  // Shapes: negative, fractional, not an array, overflowing the product or the byte count.
  expect_refused(raw_file(entry("F32", "[-2]", "[0,8]"), d8), "tensor 't.w': shape holds -2");
  expect_refused(raw_file(entry("F32", "[2.0]", "[0,8]"), d8), "not a non-negative integer");
  expect_refused(raw_file(entry("F32", "2", "[0,8]"), d8), "shape is not an array");
  expect_refused(raw_file(entry("F32", "[4294967296,4294967296,2]", "[0,8]"), d8), "tensor 't.w': shape");
  expect_refused(raw_file(entry("F32", "[4611686018427387904]", "[0,8]"), d8), "overflows");
  expect_refused(raw_file(entry("F32", "[18446744073709551616]", "[0,8]"), d8), "not a non-negative integer");
  // Offsets: malformed, reversed, beyond the data, disagreeing with dtype x shape.
  expect_refused(raw_file(entry("F32", "[2]", "[0]"), d8), "data_offsets is not [begin, end]");
  expect_refused(raw_file(entry("F32", "[2]", "[0,-8]"), d8), "data_offsets is not");
  expect_refused(raw_file(entry("F32", "[2]", "{}"), d8), "data_offsets is not");
  expect_refused(raw_file(entry("F32", "[0]", "[8,0]"), d8), "end before they begin");
  expect_refused(raw_file(entry("F32", "[2]", "[4,12]"), d8), "tensor 't.w': data_offsets [4, 12] beyond the 8");
  expect_refused(raw_file(entry("F32", "[2]", "[0,18446744073709551615]"), d8), "beyond the 8 data bytes");
  expect_refused(raw_file(entry("F32", "[3]", "[0,8]"), d8), "tensor 't.w': 8 data bytes, but F32 [3] needs 12");
  expect_refused(raw_file(entry("F16", "[2]", "[0,8]"), d8), "but F16 [2] needs 4");
  // Overlapping tensors (also when the overlap is partial), whatever their order in the header.
  std::string d12 = floats({1, 2, 3});
  expect_refused(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                          d12),
                 "tensor 'b' overlaps tensor 'a'");
  expect_refused(raw_file(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                          d12),
                 "overlaps");
  // Empty tensors occupy nothing, and a gap between tensors is allowed.
  EXPECT_NO_THROW(SafetensorsFile::from_bytes(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                                       R"("e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},)"
                                                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                                       d12),
                                              "ok"));
}

TEST(Safetensors, ReadsUnalignedFilesFromOtherWriters) {
  // A header of odd length: the data section starts unaligned, as some writers produce.
  std::string header = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  if (header.size() % 2 == 0) header += ' ';
  std::string bytes = raw_file(header, floats({1.5f, -2, 3}));
  ASSERT_NE((bytes.size() - 12) % 4, 0u);
  SafetensorsFile f = SafetensorsFile::from_bytes(bytes, "odd");
  float out[3];
  f.read_f32("x", {3}, out);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 3.0f);
}

TEST(Safetensors, FileErrorsNameThePath) {
  try {
    SafetensorsFile f("/nonexistent/dir/x.safetensors");
    ADD_FAILURE() << "opened a missing file";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.safetensors"), std::string::npos);
  }
  TempDir tmp;
  testing::write_file(tmp / "short.safetensors", "abc");
  try {
    SafetensorsFile f(tmp / "short.safetensors");
    ADD_FAILURE() << "accepted a 3-byte file";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), tmp / "short.safetensors");
  }
}

bool python_has_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

// Our files read in Python with nothing but struct + json + numpy (the format's definition), and
// a file written by Python (unpadded header, other key order) reads here.
TEST(Safetensors, InteroperatesWithAPythonReader) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found (optional interop check)";
  TempDir tmp;
  std::vector<float> w = {0.5f, -1.25f, 3.0f, 1e-3f, 7.0f, -8.0f};
  std::vector<int32_t> ids = {3, -1, 2147483647};
  write_safetensors(tmp / "ours.safetensors", {{"w", DType::F32, {2, 3}, w.data()}, {"ids", DType::I32, {3}, ids.data()}},
                    {{"k", "v"}});
  std::string script = tmp / "check.py";
  testing::write_file(script, R"PY(
import json, struct, sys
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
assert (8 + n) % 8 == 0, "unaligned"
assert h["__metadata__"] == {"k": "v"}, h
base = 8 + n
def get(name, dt):
    e = h[name]
    b, end = e["data_offsets"]
    return np.frombuffer(raw[base + b:base + end], dtype=dt).reshape(e["shape"])
w = get("w", "<f4"); ids = get("ids", "<i4")
assert w.shape == (2, 3) and w[1, 2] == -8.0 and abs(w.sum() - 1.251) < 1e-6, w
assert ids.tolist() == [3, -1, 2147483647], ids
# Write one back: header unpadded, a BF16 and an F32 tensor, tensors in reverse order.
a = (w * 2).astype("<f4").tobytes()
bf = (np.array([1.0, -3.140625], dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()
hdr = {"bf": {"dtype": "BF16", "shape": [2], "data_offsets": [len(a), len(a) + len(bf)]},
       "w2": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, len(a)]}}
hb = json.dumps(hdr).encode()
open(dst, "wb").write(struct.pack("<Q", len(hb)) + hb + a + bf)
print("ok")
)PY");
  std::string cmd = "/usr/bin/python3 " + script + " " + (tmp / "ours.safetensors") + " " + (tmp / "py.safetensors");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  SafetensorsFile f(tmp / "py.safetensors");
  std::vector<float> w2(6), bf(2);
  f.read_f32("w2", {3, 2}, w2.data());
  f.read_f32("bf", {2}, bf.data());
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(w2[i], 2 * w[i]);
  EXPECT_EQ(bf[0], 1.0f);
  EXPECT_EQ(bf[1], -3.140625f);
  EXPECT_EQ(f.tensors()[0].name, "w2") << "tensors are listed in file order";
}

// --- parameters ---

ModelConfig small_config(bool tied) {
  ModelConfig c;
  c.vocab_size = 37;
  c.max_seq_len = 16;
  c.dim = 16;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.ffn_dim = 24;
  c.tied_embeddings = tied;
  return c;
}

TEST(ParamsIO, SaveLoadRoundTripWithHfNamesAndPrefix) {
  for (bool tied : {false, true}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    ModelConfig cfg = small_config(tied);
    ParamLayout layout(cfg);
    std::vector<float> p(layout.total());
    init_params(cfg, layout, p.data(), 7);
    TempDir tmp;
    std::string path = tmp / "model.safetensors";
    save_params(path, layout, p.data(), {{"format", "pt"}});
    SafetensorsFile f(path);
    EXPECT_EQ(f.metadata().at("format"), "pt");
    // HF names, in for_each_param order, F32; a tied model has no lm_head tensor (HF omits it).
    std::vector<std::string> names;
    for (const TensorIn& t : f.tensors()) {
      names.push_back(t.name);
      EXPECT_EQ(t.dtype, DType::F32);
    }
    std::vector<std::string> want;
    for_each_param(layout, [&](const ParamInfo& pi) { want.push_back(pi.name); });
    EXPECT_EQ(names, want);
    EXPECT_NE(f.find("model.embed_tokens.weight"), nullptr);
    EXPECT_NE(f.find("model.layers.1.self_attn.k_proj.weight"), nullptr);
    EXPECT_NE(f.find("model.layers.0.mlp.down_proj.weight"), nullptr);
    EXPECT_NE(f.find("model.norm.weight"), nullptr);
    EXPECT_EQ(f.find("lm_head.weight") != nullptr, !tied);
    const TensorIn* k = f.find("model.layers.1.self_attn.k_proj.weight");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->shape, (std::vector<size_t>{8, 16}));  // [KVH * D, C]

    std::vector<float> q(layout.total(), -1.0f);
    load_params(f, layout, q.data());
    EXPECT_EQ(p, q);

    // The same layout under a prefix (gradients, AdamW moments), two buffers in one file.
    std::vector<float> m(layout.total()), v(layout.total());
    for (size_t i = 0; i < m.size(); ++i) m[i] = 0.5f * float(i), v[i] = -float(i);
    save_params(tmp / "opt_m.safetensors", layout, m.data(), {}, "m.");
    SafetensorsFile fm(tmp / "opt_m.safetensors");
    EXPECT_NE(fm.find("m.model.norm.weight"), nullptr);
    std::vector<float> back(layout.total());
    load_params(fm, layout, back.data(), "m.");
    EXPECT_EQ(back, m);
    // Without the prefix, nothing matches.
    EXPECT_THROW(load_params(fm, layout, back.data()), UserError);
  }
}

TEST(ParamsIO, LoadRefusesAnotherModel) {
  ModelConfig cfg = small_config(false);
  ParamLayout layout(cfg);
  std::vector<float> p(layout.total(), 0.25f);
  TempDir tmp;
  auto expect_error = [&](const std::string& path, const ParamLayout& l, const std::string& part, bool extra = false) {
    SafetensorsFile f(path);
    std::vector<float> q(l.total());
    try {
      load_params(f, l, q.data(), "", extra);
      ADD_FAILURE() << "loaded a mismatched file";
    } catch (const UserError& e) {
      EXPECT_EQ(e.input(), path);
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  save_params(tmp / "a.safetensors", layout, p.data());
  // Wider model: a shape mismatch naming the tensor.
  ModelConfig wide = cfg;
  wide.ffn_dim = 32;
  expect_error(tmp / "a.safetensors", ParamLayout(wide), "'model.layers.0.mlp.gate_proj.weight' has shape [24, 16]");
  // Deeper model: a missing tensor.
  ModelConfig deep = cfg;
  deep.n_layers = 3;
  expect_error(tmp / "a.safetensors", ParamLayout(deep), "'model.layers.2.input_layernorm.weight' is missing");
  // Tied model reading an untied file: the lm_head is extra (unless allowed).
  ModelConfig tied = cfg;
  tied.tied_embeddings = true;
  expect_error(tmp / "a.safetensors", ParamLayout(tied), "unexpected tensor 'lm_head.weight'");
  {
    ParamLayout lt(tied);
    std::vector<float> q(lt.total());
    EXPECT_NO_THROW(load_params(SafetensorsFile(tmp / "a.safetensors"), lt, q.data(), "", true));
    EXPECT_EQ(q[0], 0.25f);
  }
  // An F16 copy of the weights loads (converted).
  std::vector<TensorOut> half;
  std::vector<std::vector<uint16_t>> store;
  for_each_param(layout, [&](const ParamInfo& pi) {
    store.emplace_back(pi.size, uint16_t(0x3c00));  // 1.0
    half.push_back({pi.name, DType::F16, pi.shape, store.back().data()});
  });
  write_safetensors(tmp / "h.safetensors", half);
  std::vector<float> q(layout.total());
  load_params(SafetensorsFile(tmp / "h.safetensors"), layout, q.data());
  for (float x : q) ASSERT_EQ(x, 1.0f);
}

}  // namespace
}  // namespace tlm
