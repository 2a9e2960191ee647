// Machine-readable metrics as JSON lines (one object per line, flushed per line so a crashed
// run still leaves every completed record). Human output goes through log/progress instead.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace tlm {

class MetricsWriter {
 public:
  MetricsWriter() = default;
  // Appends to `path` (creating it); an empty path makes a writer that drops everything.
  explicit MetricsWriter(const std::string& path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  bool enabled() const { return file_ != nullptr; }
  void write(const nlohmann::json& record);

 private:
  std::FILE* file_ = nullptr;
};

}  // namespace tlm
