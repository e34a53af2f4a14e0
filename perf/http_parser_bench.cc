// Parser micro-benchmarks: requests/s and bytes/s on a typical browser
// request and on the request wrk sends, for ringwire's parser and, as a
// reference, libhttp-parser (nodejs/http-parser, from Debian).
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <string_view>

#include "core/http_parser.h"

namespace {

constexpr std::string_view kBrowser =
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) "
    "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
    "Accept-Encoding: gzip,deflate\r\n"
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
    "Keep-Alive: 115\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n"
    "\r\n";

constexpr std::string_view kWrk = "GET /page.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

void ringwire_parse(benchmark::State& state, std::string_view req) {
  ringwire::core::http::Request r;
  for (auto _ : state) {
    auto res = ringwire::core::http::parse_request(req, r);
    benchmark::DoNotOptimize(res);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(req.size()));
}

int on_done(http_parser* p) {
  http_parser_pause(p, 1);
  return 0;
}

void http_parser_parse(benchmark::State& state, std::string_view req) {
  http_parser_settings settings{};
  settings.on_headers_complete = on_done;
  http_parser p;
  for (auto _ : state) {
    http_parser_init(&p, HTTP_REQUEST);
    size_t n = http_parser_execute(&p, &settings, req.data(), req.size());
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(req.size()));
}

BENCHMARK_CAPTURE(ringwire_parse, browser, kBrowser);
BENCHMARK_CAPTURE(ringwire_parse, wrk, kWrk);
BENCHMARK_CAPTURE(http_parser_parse, browser, kBrowser);
BENCHMARK_CAPTURE(http_parser_parse, wrk, kWrk);

}  // namespace

BENCHMARK_MAIN();
