#include "common/private_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace concierge {

std::string create_private_file(const std::filesystem::path& path, const std::string& content, const std::string& what) {
  // The content is written whole under a temporary name, then linked into place. link(2) never
  // replaces an existing file: of several processes starting at once exactly one file wins, and
  // every other process reads that complete file, never an empty or half-written one.
  std::string tmp = path.string() + ".XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) throw std::runtime_error("cannot create " + what + " " + path.string() + ": " + std::strerror(errno));
  const bool written = ::fchmod(fd, 0600) == 0 && ::write(fd, content.data(), content.size()) == ssize_t(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  const int linked = written ? ::link(tmp.c_str(), path.c_str()) : -1;
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (!written) throw std::runtime_error("cannot write " + what + " " + path.string());
  if (linked == 0) return content;
  if (link_errno != EEXIST)
    throw std::runtime_error("cannot create " + what + " " + path.string() + ": " + std::strerror(link_errno));
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    throw std::runtime_error(path.string() + " is readable by others; chmod 600 it");
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace concierge
