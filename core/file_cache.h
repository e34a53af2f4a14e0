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

// What is true of a cached file whatever the Date of the response that sends
// it: every generation of an entry shares one FileMeta, so a new Date never
// copies these fields one by one (a field added here cannot be forgotten) and
// never duplicates the descriptor (which could fail under EMFILE).
struct FileMeta {
  std::string file_path;  // relative to the root, as opened
  Fd fd;                  // open for large files; closed for whole ones
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t size = 0;
  timespec mtime{};
  std::string_view mime;
  std::string etag;           // quoted: "<mtime hex>-<size hex>"
  std::string last_modified;  // IMF-fixdate
  bool whole = false;         // the body is in the response; otherwise sent from `fd`
};

// One file as the server sends it during one second. A small file carries its
// whole 200 response - status line, headers, body - built once, so a hit is
// one send with no formatting. A larger one carries its header block, and its
// FileMeta keeps the file open for sendfile. A pending send holds the entry,
// and through it the FileMeta and the descriptor.
struct FileEntry {
  std::shared_ptr<const FileMeta> meta;
  // Header block ("HTTP/1.1 200 OK\r\n ... \r\n\r\n"), then the body when whole.
  std::string response;
  size_t header_len = 0;
  size_t date_offset = 0;  // where the 29-byte Date value sits in `response`
  time_t date_second = 0;  // the second written in the Date header

  std::string_view header_block() const noexcept { return {response.data(), header_len}; }
  std::string_view body() const noexcept { return {response.data() + header_len, response.size() - header_len}; }
};

// How much a worker's FileCache may hold.
struct CacheLimits {
  uint64_t max_file = 64 * 1024;          // files up to this size are cached whole
  size_t max_entries = 4096;              // entries, whole or not
  uint64_t max_bytes = 32 * 1024 * 1024;  // bytes of cached responses
};

// FileCache is a worker's open-file cache keyed by normalized request path.
// It resolves paths with openat2(RESOLVE_BENEATH), so neither ".." nor a
// symlink can reach outside the root.
//
// Changes on disk are seen two ways. An inotify watch on each directory that
// holds a cached file, and on its ancestors, reports a rename over, a write,
// a delete, a chmod or a directory swapped on the way, and the next lookup
// after poll_changes() loads the file again. Behind it, an entry is still
// compared with the disk once a second: that catches what the watches cannot
// see (a file that is a symlink to another directory, a change made through
// another mount or on a network file system, a watch refused by
// max_user_watches, no inotify at all) for one fstatat per entry per second.
//
// Entries are bounded in number and in response bytes and evicted least
// recently used first. An entry still referenced by a pending send is
// replaced, never modified. One per worker thread: no locks.
class FileCache {
 public:
  enum class Status { Ok, NotFound, Forbidden, Redirect, Error };
  struct Lookup {
    Status status;
    std::shared_ptr<const FileEntry> entry;
  };

  FileCache(int root_fd, const CacheLimits& limits, const Clock& clock);
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // Picks up changes to cached files noticed since the last call. Engines
  // call it once per loop turn, before handling the turn's events. It only
  // notes that a turn began: the first lookup of the turn reads the change
  // notifications, so a turn without requests makes no system call.
  void poll_changes() noexcept { changes_unread_ = true; }

  // `path` comes from normalize_target: relative, no leading '/', "" for the
  // root. A directory serves its index.html when `path` ends in '/' (or is
  // the root); otherwise the answer is Redirect, to the path with a '/'.
  Lookup get(std::string_view path);

  // Entries cached, and the bytes of their responses (what max_bytes bounds).
  size_t size() const noexcept { return map_.size(); }
  uint64_t bytes() const noexcept { return bytes_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  // A watched directory ("" is the root). Its ancestors are watched too, so
  // that a directory or symlink swapped on the way to a file is noticed.
  struct Dir {
    int wd = -1;
    size_t users = 0;                   // entries in it and watched subdirectories
    Dir* parent = nullptr;              // null for the root, or if not watched
    const std::string* path = nullptr;  // the key of this Dir in dirs_
  };
  // A map value: the current generation of an entry, and the cache's
  // bookkeeping about it. Slots never move (unordered_map nodes are stable),
  // so the LRU list links them directly.
  struct Slot {
    std::shared_ptr<FileEntry> entry;
    time_t checked_second = 0;         // when the file was last compared with the disk
    size_t bytes = 0;                  // what this entry counts against max_bytes
    Dir* dir = nullptr;                // null when its directory is not watched
    const std::string* key = nullptr;  // the key of this Slot in map_
    Slot* newer = nullptr;             // LRU neighbours
    Slot* older = nullptr;
  };
  using Map = std::unordered_map<std::string, Slot, Hash, std::equal_to<>>;
  using DirMap = std::unordered_map<std::string, Dir, Hash, std::equal_to<>>;

  Lookup load(std::string_view path);
  void keep(std::string_view path, const std::shared_ptr<FileEntry>& e);
  bool still_fresh(const FileMeta& m) const noexcept;
  void refresh_date(Slot& s);
  void build_response(FileEntry& e, const FileMeta& m) const;

  void erase(Map::iterator it) noexcept;
  void erase(std::string_view key) noexcept;
  void erase_under(std::string_view dir) noexcept;
  void clear() noexcept;
  void evict_oldest() noexcept;
  void lru_unlink(Slot& s) noexcept;
  void lru_push_front(Slot& s) noexcept;

  Dir* watch(std::string_view dir);
  void unwatch(Dir* d) noexcept;
  void read_changes() noexcept;
  void on_change(Dir& d, uint32_t mask, std::string_view name) noexcept;

  int root_fd_;  // borrowed from the server
  CacheLimits limits_;
  const Clock& clock_;
  Map map_;
  uint64_t bytes_ = 0;
  Slot* newest_ = nullptr;
  Slot* oldest_ = nullptr;

  Fd inotify_;  // invalid when inotify is unavailable: the once-a-second check remains
  bool changes_unread_ = false;
  DirMap dirs_;
  std::unordered_map<int, Dir*> dir_by_wd_;
  std::string scratch_;         // builds keys from inotify names without allocating each time
  bool watch_refused_ = false;  // a refused watch was logged
};

}  // namespace ringwire::core
