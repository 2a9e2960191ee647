// Train/val/test assignment by hash: a tweet's split is a pure function of its id (or its
// normalized text when it has no id), so re-running prepare on a grown corpus never moves a
// tweet from test into train.
#pragma once

#include <string>
#include <string_view>

namespace tlm {

enum class Split { train = 0, val = 1, test = 2 };
const char* split_name(Split s);

struct SplitFractions {
  double train = 0.98, val = 0.01, test = 0.01;
  // Parses "0.98,0.01,0.01" (three non-negative numbers summing to 1); UserError otherwise.
  static SplitFractions parse(const std::string& spec);
};

Split assign_split(std::string_view key, const SplitFractions& f);

}  // namespace tlm
