#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/fd.h"

namespace ringwire::core {

// One file as the server sends it. A small file (up to the cache's size
// limit) carries its whole 200 response - status line, headers, body - built
// once, so a hit is one send with no formatting. A larger one carries its
// header block and keeps the file open for sendfile.
struct FileEntry {
  std::string file_path;  // relative to the root, as opened
  Fd fd;                  // open for large files; closed for whole ones
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t size = 0;
  timespec mtime{};
  std::string_view mime;
  std::string etag;           // quoted: "<mtime hex>-<size hex>"
  std::string last_modified;  // IMF-fixdate
  // Header block ("HTTP/1.1 200 OK\r\n ... \r\n\r\n"), then the body when `whole`.
  std::string response;
  size_t header_len = 0;
  size_t date_offset = 0;  // where the 29-byte Date value sits in `response`
  bool whole = false;
  time_t date_second = 0;     // the second written in the Date header
  time_t checked_second = 0;  // when the file was last compared with the disk

  std::string_view header_block() const noexcept { return {response.data(), header_len}; }
  std::string_view body() const noexcept {
    return {response.data() + header_len, response.size() - header_len};
  }
};

// FileCache is a worker's open-file cache keyed by normalized request path.
// It resolves paths with openat2(RESOLVE_BENEATH), so neither ".." nor a
// symlink can reach outside the root. An entry is compared with the disk at
// most once a second, and its Date refreshed when the second changes; an entry
// still referenced by a pending send is replaced, never modified. One per
// worker thread: no locks.
// How much a worker's FileCache may hold.
struct CacheLimits {
  uint64_t max_file = 64 * 1024;          // files up to this size are cached whole
  size_t max_entries = 4096;              // entries, whole or not
  uint64_t max_bytes = 32 * 1024 * 1024;  // bytes of cached responses
};

class FileCache {
 public:
  enum class Status { Ok, NotFound, Forbidden, Redirect, Error };
  struct Lookup {
    Status status;
    std::shared_ptr<const FileEntry> entry;
  };

  FileCache(int root_fd, const CacheLimits& limits, const Clock& clock);

  // Picks up changes to cached files noticed since the last call. Cheap;
  // engines call it once per loop turn, before handling the turn's events.
  void poll_changes() noexcept {}

  // `path` comes from normalize_target: relative, no leading '/', "" for the
  // root. A directory serves its index.html when `path` ends in '/' (or is
  // the root); otherwise the answer is Redirect, to the path with a '/'.
  Lookup get(std::string_view path);

  size_t size() const noexcept { return map_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::shared_ptr<FileEntry>, Hash, std::equal_to<>>;

  Lookup load(std::string_view path);
  bool still_fresh(const FileEntry& e) const noexcept;
  std::shared_ptr<FileEntry> refresh_date(Map::iterator it);
  void build_response(FileEntry& e) const;

  int root_fd_;  // borrowed from the server
  CacheLimits limits_;
  const Clock& clock_;
  Map map_;
};

}  // namespace ringwire::core
