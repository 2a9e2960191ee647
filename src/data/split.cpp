// Hash-based split assignment (see split.h).
#include "data/split.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/check.h"
#include "core/hash.h"

namespace tlm {

const char* split_name(Split s) {
  switch (s) {
    case Split::train: return "train";
    case Split::val: return "val";
    case Split::test: return "test";
  }
  return "?";
}

SplitFractions SplitFractions::parse(const std::string& spec) {
  std::vector<double> v;
  size_t i = 0;
  while (i <= spec.size()) {
    size_t comma = spec.find(',', i);
    if (comma == std::string::npos) comma = spec.size();
    std::string part = spec.substr(i, comma - i);
    char* end = nullptr;
    double x = std::strtod(part.c_str(), &end);
    if (part.empty() || *end != '\0' || !(x >= 0) || !std::isfinite(x))
      throw user_error("--split", "'%s' is not a list of three fractions like 0.98,0.01,0.01", spec.c_str());
    v.push_back(x);
    i = comma + 1;
  }
  if (v.size() != 3)
    throw user_error("--split", "'%s' has %zu values, expected three (train,val,test)", spec.c_str(), v.size());
  double sum = v[0] + v[1] + v[2];
  if (std::fabs(sum - 1.0) > 1e-6)
    throw user_error("--split", "'%s' sums to %g, expected 1", spec.c_str(), sum);
  return {v[0], v[1], v[2]};
}

Split assign_split(std::string_view key, const SplitFractions& f) {
  // 53 uniform bits from a fixed-seed hash: stable across runs, machines and versions.
  double u = double(hash64(key, 0x5b117ULL) >> 11) * (1.0 / 9007199254740992.0);
  if (u < f.train) return Split::train;
  if (u < f.train + f.val) return Split::val;
  return Split::test;
}

}  // namespace tlm
