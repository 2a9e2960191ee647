// Tweet timestamps (see tweet_time.h).
#include "data/tweet_time.h"

#include <string_view>

namespace tlm {
namespace {

// Reads exactly n digits at s[pos]; false if there are fewer.
bool digits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

bool valid_date(int64_t y, int64_t m, int64_t d) {
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m != 2 || d <= 28 || leap;
}

std::optional<int64_t> seconds_of(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t se, int64_t offset) {
  if (!valid_date(y, mo, d) || h > 23 || mi > 59 || se > 60) return std::nullopt;
  return days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + se - offset;
}

// "+0000", "+02:00", "-0530" at pos: seconds east of UTC.
bool zone(std::string_view s, size_t& pos, int64_t& offset) {
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  const int64_t sign = s[pos++] == '-' ? -1 : 1;
  int64_t hh = 0, mm = 0;
  if (!digits(s, pos, 2, hh)) return false;
  if (pos < s.size() && s[pos] == ':') ++pos;
  if (!digits(s, pos, 2, mm) || hh > 23 || mm > 59) return false;
  offset = sign * (hh * 3600 + mm * 60);
  return true;
}

// "2018-10-10", "2018-10-10T20:19:24.000Z", "2018-10-10 20:19:24", "...+02:00".
std::optional<int64_t> parse_iso(std::string_view s) {
  size_t p = 0;
  int64_t y, mo, d, h = 0, mi = 0, se = 0, offset = 0;
  if (!digits(s, p, 4, y) || !expect(s, p, '-') || !digits(s, p, 2, mo) || !expect(s, p, '-') || !digits(s, p, 2, d))
    return std::nullopt;
  if (p == s.size()) return seconds_of(y, mo, d, 0, 0, 0, 0);
  if (s[p] != 'T' && s[p] != ' ') return std::nullopt;
  ++p;
  if (!digits(s, p, 2, h) || !expect(s, p, ':') || !digits(s, p, 2, mi)) return std::nullopt;
  if (p < s.size() && s[p] == ':' && !(++p, digits(s, p, 2, se))) return std::nullopt;
  if (p < s.size() && s[p] == '.') {
    ++p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
  }
  if (p < s.size() && s[p] == 'Z') ++p;
  else if (p < s.size() && !zone(s, p, offset)) return std::nullopt;
  if (p != s.size()) return std::nullopt;
  return seconds_of(y, mo, d, h, mi, se, offset);
}

// "Wed Oct 10 20:19:24 +0000 2018".
std::optional<int64_t> parse_v1(std::string_view s) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() < 30 || s[3] != ' ' || s[7] != ' ') return std::nullopt;
  int64_t month = 0;
  while (month < 12 && kMonths.substr(size_t(month) * 3, 3) != s.substr(4, 3)) ++month;
  if (month == 12) return std::nullopt;
  size_t p = 8;
  int64_t d, h, mi, se, y, offset = 0;
  if (!digits(s, p, 2, d) || !expect(s, p, ' ') || !digits(s, p, 2, h) || !expect(s, p, ':') || !digits(s, p, 2, mi) ||
      !expect(s, p, ':') || !digits(s, p, 2, se) || !expect(s, p, ' ') || !zone(s, p, offset) || !expect(s, p, ' ') ||
      !digits(s, p, 4, y) || p != s.size())
    return std::nullopt;
  return seconds_of(y, month + 1, d, h, mi, se, offset);
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

std::optional<int64_t> parse_tweet_time(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  if (s.find_first_not_of("0123456789") == std::string_view::npos && (s.size() == 10 || s.size() == 13)) {
    size_t p = 0;
    int64_t v = 0;
    digits(s, p, s.size(), v);
    return s.size() == 13 ? v / 1000 : v;
  }
  if (s[0] >= '0' && s[0] <= '9') return parse_iso(s);
  return parse_v1(s);
}

}  // namespace tlm
