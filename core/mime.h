#pragma once

#include <string_view>

namespace ringwire::core {

// The Content-Type for a file name, by its extension (case-insensitive);
// "application/octet-stream" when unknown.
std::string_view mime_type(std::string_view filename) noexcept;

}  // namespace ringwire::core
