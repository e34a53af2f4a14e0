#include "core/file_cache.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <iterator>

#include "core/log.h"
#include "core/mime.h"

namespace ringwire::core {
namespace {

// openat2 with RESOLVE_BENEATH refuses any resolution that leaves the root,
// whether by "..", an absolute symlink or a relative one that climbs out.
int open_beneath(int root_fd, const char* path, uint64_t flags = O_RDONLY | O_NOCTTY | O_NONBLOCK) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, path, &how, sizeof how));
}

FileCache::Status status_for_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: return FileCache::Status::NotFound;
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP: return FileCache::Status::Forbidden;
    default: return FileCache::Status::Error;
  }
}

// Everything that can make a name in a watched directory mean other bytes:
// a file written, replaced, removed or made unreadable, or a subdirectory or
// symlink on the way to cached files swapped. The *_SELF events cover the
// directory itself; IN_ONLYDIR refuses to watch anything but a directory.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB |
                                IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// Reads of the inotify queue per turn before giving up and dropping
// everything; a flood of events is then handled in bounded time.
constexpr int kMaxChangeReads = 16;

// The directory of a root-relative file path: "" for a file in the root.
std::string_view dir_of(std::string_view file_path) {
  size_t slash = file_path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : file_path.substr(0, slash);
}

// True when `path` names something inside `dir` ("" is the root, holding all).
bool beneath(std::string_view path, std::string_view dir) {
  if (dir.empty()) return true;
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

}  // namespace

FileCache::FileCache(int root_fd, const CacheLimits& limits, const Clock& clock)
    : root_fd_(root_fd), limits_(limits), clock_(clock), inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (!inotify_)
    RW_LOG_WARN("inotify unavailable ({}): cached files are compared with the disk once a second",
                std::strerror(errno));
}

FileCache::Lookup FileCache::get(std::string_view path) {
  if (changes_unread_) {
    changes_unread_ = false;
    if (!dirs_.empty()) read_changes();
  }
  auto it = map_.find(path);
  if (it == map_.end()) return load(path);
  Slot& s = it->second;
  time_t now = clock_.unix_seconds();
  if (s.checked_second != now) {
    if (!still_fresh(*s.entry->meta)) {
      erase(it);
      return load(path);
    }
    s.checked_second = now;
  }
  if (&s != newest_) {
    lru_unlink(s);
    lru_push_front(s);
  }
  if (s.entry->date_second != now) refresh_date(s);
  return {Status::Ok, s.entry};
}

bool FileCache::still_fresh(const FileMeta& m) const noexcept {
  struct stat st {};
  if (::fstatat(root_fd_, m.file_path.c_str(), &st, 0) < 0) return false;
  return st.st_ino == m.ino && st.st_dev == m.dev && static_cast<uint64_t>(st.st_size) == m.size &&
         st.st_mtim.tv_sec == m.mtime.tv_sec && st.st_mtim.tv_nsec == m.mtime.tv_nsec;
}

void FileCache::refresh_date(Slot& s) {
  // A pending send may still point at these bytes: replace, never modify.
  // Always, not only when use_count() says a send holds them: on the
  // threads engine a send on another thread may have just let go, and a
  // use count read gives no ordering with that thread's last read of the
  // bytes (ThreadSanitizer saw it). Once a second per file, the copy is
  // cheap. The new generation shares the FileMeta, and with it the open
  // descriptor, so it needs no new descriptor and cannot fail for want of one.
  s.entry = std::make_shared<FileEntry>(*s.entry);
  s.entry->response.replace(s.entry->date_offset, Clock::kHttpDateLen, clock_.http_date());
  s.entry->date_second = clock_.unix_seconds();
}

FileCache::Lookup FileCache::load(std::string_view path) {
  std::string file_path(path.empty() ? "." : path);
  Fd fd(open_beneath(root_fd_, file_path.c_str()));
  if (!fd) return {status_for_errno(errno), nullptr};
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return {Status::Error, nullptr};
  if (S_ISDIR(st.st_mode)) {
    if (!path.empty() && path.back() != '/') return {Status::Redirect, nullptr};
    file_path = std::string(path) + "index.html";
    fd.reset(open_beneath(root_fd_, file_path.c_str()));
    if (!fd) return {status_for_errno(errno), nullptr};
    if (::fstat(fd.get(), &st) < 0) return {Status::Error, nullptr};
  }
  if (!S_ISREG(st.st_mode)) return {Status::Forbidden, nullptr};

  auto m = std::make_shared<FileMeta>();
  m->file_path = std::move(file_path);
  m->dev = st.st_dev;
  m->ino = st.st_ino;
  m->size = static_cast<uint64_t>(st.st_size);
  m->mtime = st.st_mtim;
  m->mime = mime_type(m->file_path);
  m->etag = fmt::format("\"{:x}-{:x}\"", st.st_mtim.tv_sec, st.st_size);
  char lm[32];
  m->last_modified.assign(lm, format_http_date(st.st_mtim.tv_sec, lm));
  auto e = std::make_shared<FileEntry>();
  build_response(*e, *m);
  // A body that would not fit in the byte budget beside its headers is sent
  // from the file instead, like a large file.
  m->whole = m->size <= limits_.max_file && e->response.size() + m->size <= limits_.max_bytes;
  if (m->whole) {
    size_t off = e->response.size();
    e->response.resize(off + m->size);
    size_t got = 0;
    while (got < m->size) {
      ssize_t n = ::pread(fd.get(), e->response.data() + off + got, m->size - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return {Status::Error, nullptr};  // truncated while reading
      got += static_cast<size_t>(n);
    }
  } else {
    m->fd = std::move(fd);
  }
  e->meta = std::move(m);
  e->date_second = clock_.unix_seconds();
  keep(path, e);
  return {Status::Ok, std::move(e)};
}

// Caches `e` under `path` when the limits allow, evicting the least recently
// used entries to make room.
void FileCache::keep(std::string_view path, const std::shared_ptr<FileEntry>& e) {
  const FileMeta& m = *e->meta;
  size_t bytes = e->response.size();
  if (limits_.max_entries == 0 || bytes > limits_.max_bytes) return;
  // A large entry is only worth keeping with its descriptor: one without
  // would answer every later request with headers and no body.
  if (!m.whole && !m.fd) return;
  erase(path);
  Dir* dir = watch(dir_of(m.file_path));
  // The file was read before the watch existed; a change in between made no
  // event, so compare once more now that any later change will make one.
  if (dir && !still_fresh(m)) {
    unwatch(dir);
    return;
  }
  while (!map_.empty() && (map_.size() >= limits_.max_entries || bytes_ + bytes > limits_.max_bytes)) evict_oldest();
  auto it = map_.try_emplace(std::string(path)).first;
  Slot& s = it->second;
  s.entry = e;
  s.checked_second = clock_.unix_seconds();
  s.bytes = bytes;
  s.dir = dir;
  s.key = &it->first;
  bytes_ += bytes;
  lru_push_front(s);
}

void FileCache::build_response(FileEntry& e, const FileMeta& m) const {
  e.response = fmt::format(
      "HTTP/1.1 200 OK\r\n"
      "Server: ringwire\r\n"
      "Date: {}\r\n"
      "Content-Type: {}\r\n"
      "Content-Length: {}\r\n"
      "Last-Modified: {}\r\n"
      "ETag: {}\r\n"
      "Accept-Ranges: bytes\r\n"
      "\r\n",
      clock_.http_date(), m.mime, m.size, m.last_modified, m.etag);
  e.header_len = e.response.size();
  e.date_offset = e.response.find("Date: ") + 6;
}

void FileCache::erase(Map::iterator it) noexcept {
  Slot& s = it->second;
  lru_unlink(s);
  bytes_ -= s.bytes;
  unwatch(s.dir);
  map_.erase(it);
}

void FileCache::erase(std::string_view key) noexcept {
  auto it = map_.find(key);
  if (it != map_.end()) erase(it);
}

// Drops every entry whose file lies beneath `dir`, which must not be the
// path of a Dir (erasing entries may erase their Dir).
void FileCache::erase_under(std::string_view dir) noexcept {
  for (auto it = map_.begin(); it != map_.end();) {
    auto next = std::next(it);
    if (beneath(it->second.entry->meta->file_path, dir)) erase(it);
    it = next;
  }
}

void FileCache::clear() noexcept {
  erase_under({});
}

void FileCache::evict_oldest() noexcept {
  erase(map_.find(*oldest_->key));
}

void FileCache::lru_unlink(Slot& s) noexcept {
  (s.newer ? s.newer->older : newest_) = s.older;
  (s.older ? s.older->newer : oldest_) = s.newer;
  s.newer = s.older = nullptr;
}

void FileCache::lru_push_front(Slot& s) noexcept {
  s.newer = nullptr;
  s.older = newest_;
  (newest_ ? newest_->newer : oldest_) = &s;
  newest_ = &s;
}

// Returns the watched Dir for `dir`, counting one more user of it, or null
// when it cannot be watched (the entry then relies on the once-a-second check).
FileCache::Dir* FileCache::watch(std::string_view dir) {
  if (!inotify_) return nullptr;
  auto found = dirs_.find(dir);
  if (found != dirs_.end()) {
    ++found->second.users;
    return &found->second;
  }
  Dir* parent = dir.empty() ? nullptr : watch(dir_of(dir));
  // inotify_add_watch takes a path, with no directory fd to resolve it
  // beneath. So the directory is opened beneath the root first and watched
  // through its /proc link: the watch is on the very directory the file was
  // opened in, and no symlink can point it elsewhere.
  std::string dir_path(dir.empty() ? std::string_view(".") : dir);
  Fd dfd(open_beneath(root_fd_, dir_path.c_str(), O_PATH | O_DIRECTORY));
  int wd = -1;
  if (dfd) {
    char proc[32];
    *fmt::format_to_n(proc, sizeof proc - 1, "/proc/self/fd/{}", dfd.get()).out = '\0';
    wd = ::inotify_add_watch(inotify_.get(), proc, kWatchMask);
    if (wd < 0 && !watch_refused_) {
      watch_refused_ = true;
      RW_LOG_WARN(
          "cannot watch a directory for changes ({}); files there are compared with the disk "
          "once a second (see fs.inotify.max_user_watches)",
          std::strerror(errno));
    }
  }
  // One directory reached by two paths (through a symlink) is one watch, and
  // its events could name only one of the paths: the second is not watched.
  if (wd < 0 || dir_by_wd_.contains(wd)) {
    unwatch(parent);
    return nullptr;
  }
  auto it = dirs_.try_emplace(std::string(dir)).first;
  Dir& d = it->second;
  d.wd = wd;
  d.users = 1;
  d.parent = parent;
  d.path = &it->first;
  dir_by_wd_.emplace(wd, &d);
  return &d;
}

void FileCache::unwatch(Dir* d) noexcept {
  if (d == nullptr || --d->users > 0) return;
  // The kernel answers with IN_IGNORED for this wd, which read_changes skips
  // as unknown. Watch descriptors are allocated cyclically, so the number is
  // not handed out again meanwhile.
  Dir* parent = d->parent;
  ::inotify_rm_watch(inotify_.get(), d->wd);
  dir_by_wd_.erase(d->wd);
  dirs_.erase(dirs_.find(*d->path));
  unwatch(parent);
}

void FileCache::read_changes() noexcept {
  alignas(inotify_event) char buf[4096];
  for (int round = 0; round < kMaxChangeReads; ++round) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: no more changes
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were lost: nothing cached can be trusted to be current.
        clear();
        continue;
      }
      auto d = dir_by_wd_.find(ev->wd);
      if (d == dir_by_wd_.end()) continue;  // a watch removed since
      on_change(*d->second, ev->mask, ev->len ? std::string_view(ev->name) : std::string_view{});
    }
    // A read returns whole events only; if the largest possible event would
    // still have fit, the queue is empty.
    if (static_cast<size_t>(n) + sizeof(inotify_event) + NAME_MAX + 1 <= sizeof buf) return;
  }
  clear();  // a flood of events: drop everything rather than read on
}

void FileCache::on_change(Dir& d, uint32_t mask, std::string_view name) noexcept {
  // `d` may be erased below: work on a copy of its path.
  scratch_.assign(*d.path);
  if (name.empty()) {
    // The directory itself was moved, deleted, unmounted or chmod-ed:
    // whatever was reached through it may be gone or unreadable.
    erase_under(scratch_);
    return;
  }
  if (!scratch_.empty()) scratch_ += '/';
  size_t dir_len = scratch_.size();
  scratch_ += name;
  size_t before = map_.size();
  erase(std::string_view(scratch_));
  // A directory request ("sub/", or "" for the root) is keyed apart from the
  // index file it serves.
  if (name == "index.html") erase(std::string_view(scratch_).substr(0, dir_len));
  if (map_.size() != before) return;
  // Not a cached file: it may be a directory or symlink on the path of
  // cached files ("current" swapped to a new release). Checking the watched
  // directories first keeps the common case (an unrelated file created) from
  // scanning every entry.
  if (!(mask & (IN_ISDIR | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))) return;
  bool on_the_way = std::any_of(dirs_.begin(), dirs_.end(),
                                [this](const auto& kv) { return kv.first == scratch_ || beneath(kv.first, scratch_); });
  if (on_the_way) erase_under(scratch_);
}

}  // namespace ringwire::core
