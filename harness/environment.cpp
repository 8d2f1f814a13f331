#include "harness/environment.h"

#include <cblas.h>
#include <linear.h>
#include <sqlite3.h>
#include <unistd.h>
#include <xxhash.h>

#include <CLI/Version.hpp>
#include <fstream>

#include "build_info.h"
#include "backends/registry.h"
#include "harness/isolate.h"

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
  // What other programs know (through Boost.Process, with a timeout; absent programs give nothing).
  const std::string lscpu = program_output("lscpu", {"--json"});
  if (auto j = nlohmann::json::parse(lscpu, nullptr, false); j.is_object() && j.contains("lscpu")) {
    nlohmann::json cpu = nlohmann::json::object();
    for (const auto& f : j["lscpu"])
      if (f.is_object() && f.contains("field") && f.contains("data") && f["data"].is_string()) {
        std::string k = f["field"].get<std::string>();
        if (!k.empty() && k.back() == ':') k.pop_back();
        if (k == "Model name" || k == "CPU(s)" || k == "Thread(s) per core" || k == "Socket(s)" ||
            k == "L2 cache" || k == "L3 cache" || k == "CPU max MHz" || k == "Architecture")
          cpu[k] = f["data"];
      }
    if (!cpu.empty()) lv["lscpu"] = cpu;
  }
  const std::string smi =
      program_output("nvidia-smi", {"--query-gpu=name,uuid,driver_version,memory.total", "--format=csv,noheader"});
  if (!smi.empty()) lv["nvidia_smi"] = smi.substr(0, smi.find_last_not_of('\n') + 1);
  if (auto info = backend_device_identity(backend_name, device)) {
    e.gpu_name = info->name;
    e.gpu_uuid = info->uuid;
    e.gpu_driver = info->driver;
    e.cuda_runtime = info->runtime;
    e.cublas_version = info->blas;
  }
  return e;
}

}  // namespace eeb
