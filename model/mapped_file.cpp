#include "model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace eeb {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(path, std::string("cannot stat: ") + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(path, "is a directory, expected a file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  mtime_ns_ = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  inode_ = static_cast<uint64_t>(st.st_ino), device_ = static_cast<uint64_t>(st.st_dev);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw Error(path, std::string("cannot map: ") + std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

void MappedFile::check_unchanged() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0)
    throw Error(path_, std::string("changed on disk since it was mapped (now: ") + std::strerror(errno) +
                           "); reload the model");
  const int64_t mt = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == size_ && mt == mtime_ns_ && uint64_t(st.st_ino) == inode_ && uint64_t(st.st_dev) == device_) return;
  std::string what;
  if (size != size_) what = "size " + std::to_string(size_) + " -> " + std::to_string(size) + " bytes";
  else if (uint64_t(st.st_ino) != inode_ || uint64_t(st.st_dev) != device_) what = "replaced by another file";
  else what = "modification time changed";
  throw Error(path_, "changed on disk since it was mapped (" + what + "); the weights in use are not the file's, reload the model");
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace eeb
