// The run's environment, recorded with every run so numbers can be traced and compared honestly.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace eeb {

class Backend;

struct Environment {
  std::string eebench_version, git_sha, compiler, build_type;
  bool git_dirty = false;
  std::string cpu_model, hostname;
  std::string gpu_name, gpu_uuid, gpu_driver, cuda_runtime, cublas_version;
  nlohmann::json library_versions = nlohmann::json::object();
};

// Build facts, the host, library versions; GPU facts when `backend` is a CUDA backend.
Environment capture_environment(const std::string& backend_name, int device = 0);
std::string cpu_model_name();

}  // namespace eeb
