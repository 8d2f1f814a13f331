// Models and datasets from the Hugging Face hub (or a mirror), in a cache laid out like
// huggingface_hub's own, so that files other tools downloaded are found and reused:
//
//   $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
//     models--org--name/refs/main                 the commit the revision points at
//     models--org--name/blobs/<etag>              file contents (sha256 for LFS files)
//     models--org--name/snapshots/<commit>/<file> relative symlinks into blobs/
//     datasets--org--name/...                     the same for datasets
//
// Endpoint: $HF_ENDPOINT (default https://huggingface.co); token: $HF_TOKEN; $HF_HUB_OFFLINE=1 or
// --offline: nothing touches the network. docs/ARCHITECTURE.md ("Getting models") has the details.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace eeb {

struct HubRepo {
  std::string type = "model";  // model | dataset
  std::string id;              // org/name
  std::string revision = "main";
};

// "org/name" or "org/name@revision"; Error for anything else.
HubRepo parse_hub_repo(const std::string& s, const std::string& type = "model");
bool looks_like_hub_id(const std::string& s);  // org/name[@rev] shape (not a path that exists)

std::filesystem::path hub_cache_dir();
std::filesystem::path hub_repo_dir(const HubRepo& r, const std::filesystem::path& cache = hub_cache_dir());

// The cached snapshot of r (refs/<revision> → snapshots/<commit>, or a commit hash given directly).
std::optional<std::filesystem::path> cached_snapshot(const HubRepo& r,
                                                     const std::filesystem::path& cache = hub_cache_dir());

// What `--model` names: an existing path as is; an org/name[@rev] from the cache (never the network);
// Error telling how to fetch it otherwise.
std::string resolve_model_path(const std::string& arg);

struct FetchOptions {
  std::vector<std::string> patterns;  // glob patterns of files; empty: the defaults for the repo type
  std::filesystem::path cache = hub_cache_dir();
  std::string endpoint;               // "" = $HF_ENDPOINT or https://huggingface.co
  std::string token;                  // "" = $HF_TOKEN
  bool offline = false;               // also when $HF_HUB_OFFLINE=1
  int retries = 5;                    // per file, on dropped connections, 5xx and 429
  int retry_ms = 500;                 // first back-off; doubles each time ($EEBENCH_FETCH_RETRY_MS)
  bool quiet = false;
};

// Downloads (or finds) the files of r; returns the snapshot folder.
std::filesystem::path fetch_hub_repo(const HubRepo& r, FetchOptions opt);

}  // namespace eeb
