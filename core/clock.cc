#include "core/clock.h"

#include <cstring>

namespace ringwire::core {
namespace {
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

int month_index(std::string_view m) {
  for (int i = 0; i < 12; ++i)
    if (m == kMonths[i]) return i;
  return -1;
}

bool to_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

bool parse_hms(std::string_view s, tm& t) {
  return s.size() == 8 && s[2] == ':' && s[5] == ':' && to_int(s.substr(0, 2), t.tm_hour) &&
         to_int(s.substr(3, 2), t.tm_min) && to_int(s.substr(6, 2), t.tm_sec);
}
}  // namespace

void Clock::update() noexcept {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &mono);
  clock_gettime(CLOCK_REALTIME_COARSE, &real);
  mono_ms_ = int64_t{mono.tv_sec} * 1000 + mono.tv_nsec / 1000000;
  if (real.tv_sec != unix_s_) {
    unix_s_ = real.tv_sec;
    format_http_date(unix_s_, date_);
  }
}

size_t format_http_date(time_t t, char* out) noexcept {
  tm g{};
  gmtime_r(&t, &g);
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  memcpy(out, kDays[g.tm_wday], 3);
  out[3] = ',';
  out[4] = ' ';
  put2(out + 5, g.tm_mday);
  out[7] = ' ';
  memcpy(out + 8, kMonths[g.tm_mon], 3);
  out[11] = ' ';
  int year = g.tm_year + 1900;
  put2(out + 12, year / 100);
  put2(out + 14, year % 100);
  out[16] = ' ';
  put2(out + 17, g.tm_hour);
  out[19] = ':';
  put2(out + 20, g.tm_min);
  out[22] = ':';
  put2(out + 23, g.tm_sec);
  memcpy(out + 25, " GMT", 4);
  out[29] = '\0';
  return 29;
}

bool parse_http_date(std::string_view s, time_t& out) noexcept {
  tm t{};
  if (s.size() == 29 && s[3] == ',') {  // IMF-fixdate
    if (!to_int(s.substr(5, 2), t.tm_mday) || (t.tm_mon = month_index(s.substr(8, 3))) < 0 ||
        !to_int(s.substr(12, 4), t.tm_year) || !parse_hms(s.substr(17, 8), t) || s.substr(25) != " GMT")
      return false;
    t.tm_year -= 1900;
  } else if (size_t comma = s.find(", "); comma != std::string_view::npos && comma > 3) {
    // rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
    std::string_view r = s.substr(comma + 2);
    if (r.size() != 22 || r[2] != '-' || r[6] != '-' || !to_int(r.substr(0, 2), t.tm_mday) ||
        (t.tm_mon = month_index(r.substr(3, 3))) < 0 || !to_int(r.substr(7, 2), t.tm_year) ||
        !parse_hms(r.substr(10, 8), t) || r.substr(18) != " GMT")
      return false;
    if (t.tm_year < 70) t.tm_year += 100;
  } else if (s.size() == 24) {
    // asctime-date: "Sun Nov  6 08:49:37 1994"
    std::string_view day = s.substr(8, 2);
    if (day[0] == ' ') day.remove_prefix(1);
    if ((t.tm_mon = month_index(s.substr(4, 3))) < 0 || !to_int(day, t.tm_mday) || !parse_hms(s.substr(11, 8), t) ||
        !to_int(s.substr(20, 4), t.tm_year))
      return false;
    t.tm_year -= 1900;
  } else {
    return false;
  }
  out = timegm(&t);
  return out != -1;
}

}  // namespace ringwire::core
