// Date parsing and formatting (see tweet_time.h). No locale, no timegm: the
// civil-date arithmetic is Howard Hinnant's days_from_civil, exact for every Gregorian date.
#include "data/tweet_time.h"

#include <cctype>
#include <cstring>

#include "core/check.h"

namespace tlm {

namespace {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = int64_t(yoe) + era * 400 + (m <= 2);
}

// A cursor over the text with the few primitives the two formats need.
struct Scan {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  bool eat(char c) {
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  }
  // Exactly n digits.
  bool digits(int n, int& out) {
    if (i + size_t(n) > s.size()) return false;
    out = 0;
    for (int k = 0; k < n; k++) {
      char c = s[i + size_t(k)];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += size_t(n);
    return true;
  }
};

bool valid_date(int y, int m, int d) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

// "+HH[:]MM", "-HH[:]MM" or "Z"; seconds east of UTC.
bool zone(Scan& p, int& offset) {
  if (p.eat('Z') || p.eat('z')) return offset = 0, true;
  int sign = p.eat('+') ? 1 : (p.eat('-') ? -1 : 0);
  if (!sign) return false;
  int hh, mm;
  if (!p.digits(2, hh)) return false;
  p.eat(':');
  if (!p.digits(2, mm) || hh > 23 || mm > 59) return false;
  offset = sign * (hh * 3600 + mm * 60);
  return true;
}

std::optional<int64_t> parse_iso(std::string_view s, bool* date_only) {
  Scan p{s};
  int y, m, d, hh = 0, mi = 0, ss = 0, offset = 0;
  if (!p.digits(4, y) || !p.eat('-') || !p.digits(2, m) || !p.eat('-') || !p.digits(2, d)) return std::nullopt;
  if (!valid_date(y, m, d)) return std::nullopt;
  *date_only = p.done();
  if (!p.done()) {
    if (!p.eat('T') && !p.eat(' ') && !p.eat('t')) return std::nullopt;
    if (!p.digits(2, hh) || !p.eat(':') || !p.digits(2, mi)) return std::nullopt;
    if (p.eat(':')) {
      if (!p.digits(2, ss)) return std::nullopt;
      if (p.eat('.') || p.eat(',')) {
        size_t start = p.i;
        while (!p.done() && std::isdigit(static_cast<unsigned char>(p.s[p.i]))) p.i++;
        if (p.i == start) return std::nullopt;
      }
    }
    if (hh > 23 || mi > 59 || ss > 60) return std::nullopt;
    if (!p.done() && !zone(p, offset)) return std::nullopt;
    if (!p.done()) return std::nullopt;
  }
  return days_from_civil(y, unsigned(m), unsigned(d)) * 86400 + hh * 3600 + mi * 60 + ss - offset;
}

// "Wed Oct 10 20:19:24 +0000 2018"
std::optional<int64_t> parse_twitter(std::string_view s) {
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 30 || s[3] != ' ' || s[7] != ' ') return std::nullopt;
  int m = 0;
  for (int k = 0; k < 12; k++)
    if (s.substr(4, 3) == months[k]) m = k + 1;
  if (!m) return std::nullopt;
  Scan p{s};
  p.i = 8;
  int d, hh, mi, ss, offset, y;
  if (!p.digits(2, d) || !p.eat(' ') || !p.digits(2, hh) || !p.eat(':') || !p.digits(2, mi) || !p.eat(':') ||
      !p.digits(2, ss) || !p.eat(' ') || !zone(p, offset) || !p.eat(' ') || !p.digits(4, y) || !p.done())
    return std::nullopt;
  if (!valid_date(y, m, d) || hh > 23 || mi > 59 || ss > 60) return std::nullopt;
  return days_from_civil(y, unsigned(m), unsigned(d)) * 86400 + hh * 3600 + mi * 60 + ss - offset;
}

std::optional<int64_t> parse_any(std::string_view s, bool* date_only) {
  *date_only = false;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.size() >= 9 && s.size() <= 13 && s.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return s.size() == 13 ? v / 1000 : v;  // 13 digits: milliseconds (some CSV exports)
  }
  if (auto t = parse_iso(s, date_only)) return t;
  return parse_twitter(s);
}

}  // namespace

std::optional<int64_t> parse_tweet_time(std::string_view s) {
  bool date_only;
  return parse_any(s, &date_only);
}

int64_t parse_date_bound(std::string_view s, bool upper, const std::string& what) {
  bool date_only;
  std::optional<int64_t> t = parse_any(s, &date_only);
  if (!t)
    throw user_error(what, "'%.*s' is not a date (use YYYY-MM-DD, an ISO 8601 time such as 2020-01-31T12:00:00Z, "
                     "or unix seconds)", int(std::min<size_t>(s.size(), 64)), s.data());
  return upper && date_only ? *t + 86399 : *t;
}

std::string format_timestamp(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t rem = t - days * 86400, y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return strprintf("%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                   static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                   static_cast<long long>(rem % 60));
}

}  // namespace tlm
