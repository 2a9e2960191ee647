// libFuzzer target: the GGUF reader (io/gguf.h GgufFile) and loading a model from it
// (store/model_loader.h load_gguf_model). Any bytes must give a UserError or a file whose every
// tensor lies inside the data section, aligned, with unique names and an element count equal
// to its dims' product, and whose f32/f16/bf16/q8_0 tensors read_f32 reads (other types: a UserError).
// Loading a model from the same bytes must give a model or a UserError, nothing else.
//
// Input: the file's bytes as they are (seeds: fuzz/corpus/fuzz_gguf, written by
// tests/test_gguf_read.cpp with TLM_WRITE_GGUF_SEEDS=DIR).
#include <vector>

#include "fuzz_common.h"
#include "store/model_loader.h"
#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tlm::fuzz::MemFile file;
  const std::string& path = file.write(tlm::fuzz::as_view(data, size));
  tlm::fuzz::expect_only_user_errors([&] {
    tlm::GgufFile g(path);
    FUZZ_CHECK(g.alignment() > 0 && (g.alignment() & (g.alignment() - 1)) == 0);
    FUZZ_CHECK(g.data_start() % g.alignment() == 0);
    for (const std::string& k : g.keys()) {
      const tlm::GgufValue* v = g.find(k);
      FUZZ_CHECK(v != nullptr);
      if (v->type == tlm::GgufType::array && v->elem == tlm::GgufType::string) FUZZ_CHECK(v->strings.size() == v->count);
      if (v->type == tlm::GgufType::array && v->elem == tlm::GgufType::array) FUZZ_CHECK(v->items.size() == v->count);
    }
    for (const tlm::GgufTensorInfo& t : g.tensors()) {
      FUZZ_CHECK(g.find_tensor(t.name) == &t);
      uint64_t n = 1;
      for (uint64_t d : t.dims) n *= d;  // validated: cannot overflow
      FUZZ_CHECK(n == t.elements);
      FUZZ_CHECK((t.offset - g.data_start()) % g.alignment() == 0);
      FUZZ_CHECK(t.offset >= g.data_start() && t.offset <= size && t.bytes <= size - t.offset);
      const bool readable = t.type == 0 || t.type == 1 || t.type == 8 || t.type == 30;
      if (t.elements > (uint64_t(1) << 24)) continue;  // bounded work per input
      std::vector<float> out(t.elements);
      try {
        g.read_f32(t, out.data());
        FUZZ_CHECK(readable);
      } catch (const tlm::UserError&) {
        FUZZ_CHECK(!readable);
      }
    }
  });
  tlm::fuzz::expect_only_user_errors([&] { tlm::load_gguf_model(path); });
  return 0;
}
