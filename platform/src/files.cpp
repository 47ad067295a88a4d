#include "shiftbook/platform/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <streambuf>

namespace shiftbook {
namespace {

// An ostream target that writes straight to a file descriptor, so an export of any size never
// has to fit in memory. Remembers the first write error.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buf()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return flush_buf() ? 0 : -1; }

 private:
  bool flush_buf() {
    const char* p = pbase();
    while (p < pptr()) {
      ssize_t n = ::write(fd_, p, static_cast<std::size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        if (error_ == 0) error_ = errno;
        setp(buf_, buf_ + sizeof buf_);
        return false;
      }
      p += n;
    }
    setp(buf_, buf_ + sizeof buf_);
    return true;
  }
  int fd_;
  int error_ = 0;
  char buf_[65536];
};

}  // namespace

Status errno_status(const std::string& what) {
  const int e = errno;
  std::string msg = what + ": " + std::strerror(e);
  if (e == ENOENT) return not_found(msg);
  if (e == EACCES || e == EPERM || e == EROFS) return permission_denied(msg);
  if (e == ENOSPC || e == EDQUOT) return resource_exhausted(msg);
  return internal_error(msg);
}

Result<Bytes> read_file_bytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot read " + path);
  Bytes out;
  std::uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = errno_status("cannot read " + path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

Status write_file_atomic(const std::string& path, unsigned mode, const std::function<Status(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp";
  // The temp file must be one this call creates: a stale one (or a link planted in its place) is
  // removed, never opened, so the data can neither land in another file nor keep a wider mode.
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) return errno_status("cannot remove the stale " + tmp);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errno_status("cannot write " + tmp);
  auto fail = [&](Status s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  FdBuf buf(fd);
  std::ostream out(&buf);
  Status written = write(out);
  out.flush();
  if (!written.is_ok()) return fail(written);
  if (buf.error() != 0) {
    errno = buf.error();
    return fail(errno_status("cannot write " + tmp));
  }
  if (::fsync(fd) != 0) return fail(errno_status("cannot sync " + tmp));
  if (::close(fd) != 0) {
    Status s = errno_status("cannot write " + tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = errno_status("cannot rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return s;
  }
  // The rename is durable once the folder that holds it is synced.
  const std::string parent = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

Status write_file_atomic(const std::string& path, ByteView data, unsigned mode) {
  return write_file_atomic(path, mode, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    return Status::ok();
  });
}

}  // namespace shiftbook
