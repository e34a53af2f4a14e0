#include "lb/backend_spec.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <unordered_map>

namespace ringwire::lb {
namespace {

constexpr std::string_view kSpace = " \t\r\n\f\v";

std::string_view trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

std::expected<unsigned, std::string> parse_weight(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > kMaxWeight)
    return std::unexpected(fmt::format("weight '{}' is not a number in 1..{}", text, kMaxWeight));
  return value;
}

// The address part shared by both syntaxes. parse_endpoint accepts ":PORT"
// and port 0 because a listener may want them; a backend may not.
std::expected<BackendSpec, std::string> parse_address(std::string_view address) {
  if (address.empty()) return std::unexpected(std::string("empty address"));
  auto ep = core::parse_endpoint(address);
  if (!ep) return std::unexpected(ep.error());
  if (address.front() == ':') return std::unexpected(std::string("missing host"));
  if (ep->port() == 0) return std::unexpected(std::string("port 0"));
  BackendSpec spec;
  spec.addr = *ep;
  spec.text = std::string(address);
  return spec;
}

std::string bad(std::string_view text, std::string_view reason) {
  return fmt::format("bad backend '{}': {}", text, reason);
}

}  // namespace

std::expected<BackendSpec, std::string> parse_backend_arg(std::string_view text) {
  std::string_view address = text;
  std::string_view options;
  if (size_t comma = text.find(','); comma != std::string_view::npos) {
    address = text.substr(0, comma);
    options = text.substr(comma + 1);
  }
  auto spec = parse_address(address);
  if (!spec) return std::unexpected(bad(text, spec.error()));
  if (text.find(',') != std::string_view::npos) {
    constexpr std::string_view kWeight = "weight=";
    if (!options.starts_with(kWeight)) return std::unexpected(bad(text, fmt::format("unknown option '{}'", options)));
    auto weight = parse_weight(options.substr(kWeight.size()));
    if (!weight) return std::unexpected(bad(text, weight.error()));
    spec->weight = *weight;
  }
  return spec;
}

std::expected<std::vector<BackendSpec>, std::string> parse_backends_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));

  std::vector<BackendSpec> specs;
  // Where each address was first seen, to name both lines of a duplicate.
  std::unordered_map<std::string, unsigned> seen;
  std::string raw;
  unsigned line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string_view line = raw;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;

    auto fail = [&](std::string_view reason) {
      return std::unexpected(fmt::format("{}:{}: {}", path, line_no, bad(line, reason)));
    };
    std::string_view address = line;
    std::string_view weight_text;
    if (size_t gap = line.find_first_of(kSpace); gap != std::string_view::npos) {
      address = line.substr(0, gap);
      weight_text = trim(line.substr(gap));
      if (weight_text.find_first_of(kSpace) != std::string_view::npos) return fail("expected 'HOST:PORT [WEIGHT]'");
      if (weight_text.starts_with("weight=")) weight_text.remove_prefix(7);
    }
    auto spec = parse_address(address);
    if (!spec) return fail(spec.error());
    if (!weight_text.empty()) {
      auto weight = parse_weight(weight_text);
      if (!weight) return fail(weight.error());
      spec->weight = *weight;
    }
    auto [it, inserted] = seen.emplace(backend_key(*spec), line_no);
    if (!inserted) return fail(fmt::format("already listed on line {}", it->second));
    specs.push_back(std::move(*spec));
  }
  if (in.bad()) return std::unexpected(fmt::format("{}: read error", path));
  if (specs.empty()) return std::unexpected(fmt::format("{}: no backends listed", path));
  return specs;
}

std::string backend_key(const BackendSpec& spec) {
  return spec.addr.to_string();
}

}  // namespace ringwire::lb
