// TextStream: hold back an unfinished UTF-8 character at the end of the decoded bytes.
#include "infer/text_stream.h"

namespace tlm {

size_t utf8_complete_prefix(std::string_view s) {
  // Find the last byte that is not a continuation byte (10xxxxxx), at most 3 bytes back: a
  // character is at most 4 bytes, so an earlier lead is either complete or already broken.
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; back++) {
    const auto b = static_cast<unsigned char>(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;
    size_t need = b < 0x80 ? 1 : (b >= 0xC2 && b <= 0xDF) ? 2 : (b >= 0xE0 && b <= 0xEF) ? 3
                              : (b >= 0xF0 && b <= 0xF4) ? 4 : 1;  // invalid leads stand alone
    return back < need ? n - back : n;
  }
  return n;  // only continuation bytes at the end: nothing can complete them
}

std::string_view TextStream::push(int32_t token) {
  pending_ += tok_.token_bytes(uint32_t(token));
  const size_t cut = utf8_complete_prefix(pending_);
  ready_.assign(pending_, 0, cut);
  pending_.erase(0, cut);
  return ready_;
}

std::string_view TextStream::finish() {
  ready_.swap(pending_);
  pending_.clear();
  return ready_;
}

}  // namespace tlm
