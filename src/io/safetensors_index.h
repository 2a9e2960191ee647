// model.safetensors.index.json: how Hugging Face splits one model over several safetensors files
// ("shards", model-00001-of-00003.safetensors ...): {"metadata": {"total_size": BYTES},
// "weight_map": {tensor name: shard file name}}.
//
// Parsing is defensive, since the index names files that we then open: a shard name must be a
// plain file name inside the model directory (no '/', '\', NUL or "..", not "." and ending in
// .safetensors), a tensor name may appear only once (the JSON parser would otherwise keep the
// last of duplicate keys silently), the weight map must be a non-empty object of strings, and
// the text is capped in size. Every problem is one UserError naming the file.
// That each tensor is really in its shard, exactly once, is checked when the shards are opened
// (store/model_loader.cpp), since it needs their headers.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tlm {

struct SafetensorsIndex {
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name
  std::vector<std::string> files;                 // the distinct shard names, sorted
  bool has_total_size = false;
  unsigned long long total_size = 0;              // metadata.total_size when present (informational)
};

// `what` names the input in errors.
SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& what);
SafetensorsIndex read_safetensors_index(const std::string& path);

// True if `name` may name a shard: a plain file name as described above.
bool is_plain_shard_name(std::string_view name);

// Hugging Face's shard file name: model-00002-of-00005.safetensors (1-based, 5 digits).
std::string shard_file_name(size_t index, size_t count);

}  // namespace tlm
