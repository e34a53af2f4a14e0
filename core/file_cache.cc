#include "core/file_cache.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/mime.h"

namespace ringwire::core {
namespace {

// openat2 with RESOLVE_BENEATH refuses any resolution that leaves the root,
// whether by "..", an absolute symlink or a relative one that climbs out.
int open_beneath(int root_fd, const char* path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, path, &how, sizeof how));
}

FileCache::Status status_for_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return FileCache::Status::NotFound;
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP:
      return FileCache::Status::Forbidden;
    default:
      return FileCache::Status::Error;
  }
}

}  // namespace

FileCache::FileCache(int root_fd, const CacheLimits& limits, const Clock& clock)
    : root_fd_(root_fd), limits_(limits), clock_(clock) {}

FileCache::Lookup FileCache::get(std::string_view path) {
  auto it = map_.find(path);
  if (it != map_.end()) {
    FileEntry& e = *it->second;
    time_t now = clock_.unix_seconds();
    if (e.checked_second != now) {
      if (!still_fresh(e)) {
        map_.erase(it);
        return load(path);
      }
      e.checked_second = now;
    }
    if (e.date_second != now) return {Status::Ok, refresh_date(it)};
    return {Status::Ok, it->second};
  }
  return load(path);
}

bool FileCache::still_fresh(const FileEntry& e) const noexcept {
  struct stat st{};
  if (::fstatat(root_fd_, e.file_path.c_str(), &st, 0) < 0) return false;
  return st.st_ino == e.ino && st.st_dev == e.dev && static_cast<uint64_t>(st.st_size) == e.size &&
         st.st_mtim.tv_sec == e.mtime.tv_sec && st.st_mtim.tv_nsec == e.mtime.tv_nsec;
}

std::shared_ptr<FileEntry> FileCache::refresh_date(Map::iterator it) {
  std::shared_ptr<FileEntry>& slot = it->second;
  if (slot.use_count() > 1) {
    // A pending send still points at these bytes: replace, never modify.
    auto copy = std::make_shared<FileEntry>();
    copy->file_path = slot->file_path;
    if (slot->fd) copy->fd.reset(::dup(slot->fd.get()));
    copy->dev = slot->dev;
    copy->ino = slot->ino;
    copy->size = slot->size;
    copy->mtime = slot->mtime;
    copy->mime = slot->mime;
    copy->etag = slot->etag;
    copy->last_modified = slot->last_modified;
    copy->response = slot->response;
    copy->header_len = slot->header_len;
    copy->date_offset = slot->date_offset;
    copy->whole = slot->whole;
    copy->checked_second = slot->checked_second;
    slot = std::move(copy);
  }
  slot->response.replace(slot->date_offset, Clock::kHttpDateLen, clock_.http_date());
  slot->date_second = clock_.unix_seconds();
  return slot;
}

FileCache::Lookup FileCache::load(std::string_view path) {
  std::string file_path(path.empty() ? "." : path);
  Fd fd(open_beneath(root_fd_, file_path.c_str()));
  if (!fd) return {status_for_errno(errno), nullptr};
  struct stat st{};
  if (::fstat(fd.get(), &st) < 0) return {Status::Error, nullptr};
  if (S_ISDIR(st.st_mode)) {
    if (!path.empty() && path.back() != '/') return {Status::Redirect, nullptr};
    file_path = std::string(path) + "index.html";
    fd.reset(open_beneath(root_fd_, file_path.c_str()));
    if (!fd) return {status_for_errno(errno), nullptr};
    if (::fstat(fd.get(), &st) < 0) return {Status::Error, nullptr};
  }
  if (!S_ISREG(st.st_mode)) return {Status::Forbidden, nullptr};

  auto e = std::make_shared<FileEntry>();
  e->file_path = std::move(file_path);
  e->dev = st.st_dev;
  e->ino = st.st_ino;
  e->size = static_cast<uint64_t>(st.st_size);
  e->mtime = st.st_mtim;
  e->mime = mime_type(e->file_path);
  e->etag = fmt::format("\"{:x}-{:x}\"", st.st_mtim.tv_sec, st.st_size);
  char lm[32];
  e->last_modified.assign(lm, format_http_date(st.st_mtim.tv_sec, lm));
  e->whole = e->size <= limits_.max_file;
  build_response(*e);
  if (e->whole) {
    size_t off = e->response.size();
    e->response.resize(off + e->size);
    size_t got = 0;
    while (got < e->size) {
      ssize_t n = ::pread(fd.get(), e->response.data() + off + got, e->size - got,
                          static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return {Status::Error, nullptr};  // truncated while reading
      got += static_cast<size_t>(n);
    }
  } else {
    e->fd = std::move(fd);
  }
  e->checked_second = clock_.unix_seconds();
  e->date_second = clock_.unix_seconds();

  if (map_.size() >= limits_.max_entries) map_.erase(map_.begin());
  map_.insert_or_assign(std::string(path), e);
  return {Status::Ok, std::move(e)};
}

void FileCache::build_response(FileEntry& e) const {
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
      clock_.http_date(), e.mime, e.size, e.last_modified, e.etag);
  e.header_len = e.response.size();
  e.date_offset = e.response.find("Date: ") + 6;
}

}  // namespace ringwire::core
