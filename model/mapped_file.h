// Read-only memory map of a whole file.
//
// The CPU backend computes straight from these mappings, so a file replaced or truncated while
// mapped would change the weights under a run (or fault on pages past the new end). The size,
// modification time and inode seen when mapping are kept; check_unchanged() compares them with the
// file on disk now and refuses with a one-line error naming the file. A read that faults because
// the file was truncated under the mapping (SIGBUS) prints "eebench: FILE: changed on disk since it was
// mapped ..." before the process ends (a handler installed with the first mapping; handlers
// installed before it are still called).
#pragma once
#include <cstdint>
#include <string>

namespace eeb {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Throws Error(path, "changed on disk since it was mapped (...)") when the file's size,
  // modification time or inode differ from those seen when it was mapped, or it is gone.
  void check_unchanged() const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  int64_t mtime_ns_ = 0;
  uint64_t inode_ = 0, device_ = 0;
};

}  // namespace eeb
