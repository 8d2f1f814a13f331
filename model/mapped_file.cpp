#include "model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace eeb {
namespace {

// A file truncated while mapped makes reads past its new end fault with SIGBUS. The handler names
// the file instead of dying with a bare "Bus error": the live mappings sit in a fixed table that
// the handler reads without locks (only async-signal-safe calls in it).
struct LiveMapping {
  std::atomic<int> state{0};  // 0 free, 1 being filled or emptied, 2 live
  const uint8_t* begin = nullptr;
  uint64_t size = 0;
  char path[480] = {};
};
constexpr int kMaxLive = 256;  // more live mappings than this just go unnamed
LiveMapping g_live[kMaxLive];
struct sigaction g_previous {};

void put(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  while (n > 0) {
    const ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w, n -= static_cast<size_t>(w);
  }
}

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  const auto* a = static_cast<const uint8_t*>(info->si_addr);
  for (auto& m : g_live) {
    if (m.state.load(std::memory_order_acquire) != 2 || a < m.begin || a >= m.begin + m.size) continue;
    put("eebench: ");
    put(m.path);
    put(": changed on disk since it was mapped (a read of its memory mapping failed: the file was truncated or "
        "rewritten in place); stopping\n");
    break;
  }
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  // Default action: returning re-runs the faulting read, which now terminates the process.
  ::signal(SIGBUS, SIG_DFL);
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

void register_live(const std::string& path, const uint8_t* p, uint64_t size) {
  install_handler();
  for (auto& m : g_live) {
    int free_state = 0;
    if (!m.state.compare_exchange_strong(free_state, 1)) continue;
    m.begin = p, m.size = size;
    std::strncpy(m.path, path.c_str(), sizeof m.path - 1);
    m.path[sizeof m.path - 1] = 0;
    m.state.store(2, std::memory_order_release);
    return;
  }
}

void unregister_live(const uint8_t* p) {
  for (auto& m : g_live) {
    int live = 2;
    if (m.state.load(std::memory_order_acquire) == 2 && m.begin == p && m.state.compare_exchange_strong(live, 1)) {
      m.begin = nullptr, m.size = 0;
      m.state.store(0, std::memory_order_release);
      return;
    }
  }
}

}  // namespace

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
    register_live(path, data_, size_);
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
  if (data_) {
    unregister_live(data_);
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
}

}  // namespace eeb
