#include "harness/environment.h"

#include <cblas.h>
#include <linear.h>
#include <sqlite3.h>
#include <unistd.h>
#include <xxhash.h>

#include <CLI/Version.hpp>
#include <fstream>

#include "build_info.h"
#ifdef EEB_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace eeb {

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown";
}

Environment capture_environment(const std::string& backend_name, int device) {
  Environment e;
  e.eebench_version = EEB_VERSION;
  e.git_sha = EEB_GIT_SHA;
  e.git_dirty = EEB_GIT_DIRTY != 0;
  e.compiler = EEB_COMPILER;
  e.build_type = EEB_BUILD_TYPE;
  e.cpu_model = cpu_model_name();
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) e.hostname = host;
  auto& lv = e.library_versions;
  lv["openblas"] = openblas_get_config();
  lv["sqlite"] = sqlite3_libversion();
  lv["liblinear"] = LIBLINEAR_VERSION;
  lv["xxhash"] = XXH_versionNumber();
  lv["nlohmann_json"] = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                        std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                        std::to_string(NLOHMANN_JSON_VERSION_PATCH);
  lv["cli11"] = CLI11_VERSION;
#ifdef EEB_SENTENCEPIECE_VERSION
  lv["sentencepiece"] = EEB_SENTENCEPIECE_VERSION;
#endif
#ifdef EEB_HAVE_CUDA
  if (backend_name == "cuda") {
    auto info = cuda_device_info(device);
    e.gpu_name = info.name;
    e.gpu_uuid = info.uuid;
    e.gpu_driver = info.driver;
    e.cuda_runtime = info.runtime;
    e.cublas_version = info.cublas;
  }
#endif
  return e;
}

}  // namespace eeb
