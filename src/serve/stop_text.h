// Stop strings for streamed text (OpenAI `stop`): generation ends where the text first contains
// one of them, and neither the stop string nor anything after it is returned. When text is
// streamed, a chunk that ends with the beginning of a stop string ("...<" for "<|user|>") must
// be held back until the next tokens show whether the stop string completes; StopText does that
// and nothing more, so what is sent, concatenated, is always a prefix of the final text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tlm::serve {

class StopText {
 public:
  explicit StopText(std::vector<std::string> stops = {});

  // Adds newly generated text; returns the text now safe to send (possibly empty). After a stop
  // string is found, stopped() is true and the text up to it has been returned.
  std::string push(std::string_view text);
  // The end of the generation: everything still held back.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // received but not yet returned
  bool stopped_ = false;
};

}  // namespace tlm::serve
