#include "harness/hf_hub.h"

#include <fnmatch.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "harness/http_download.h"
#include "harness/progress.h"

namespace eeb {
namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool is_commit(const std::string& s) { return std::regex_match(s, std::regex("[0-9a-f]{40}")); }

std::string read_small(const fs::path& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Writes a small file atomically (temp + rename in the same folder).
void write_atomic(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  const fs::path tmp = p.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) throw Error(tmp.string(), "cannot write");
  }
  fs::rename(tmp, p);
}

// A symlink at `link` to `target`, replacing what was there, atomically.
void symlink_atomic(const fs::path& target, const fs::path& link) {
  fs::create_directories(link.parent_path());
  const fs::path tmp = link.string() + ".tmp" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp);
  fs::rename(tmp, link);
}

std::string strip_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

bool matches(const std::vector<std::string>& patterns, const std::string& file) {
  for (const auto& p : patterns)
    if (fnmatch(p.c_str(), file.c_str(), 0) == 0) return true;
  return false;
}

std::string api_url(const std::string& endpoint, const HubRepo& r) {
  return endpoint + "/api/" + (r.type == "dataset" ? "datasets/" : "models/") + r.id + "/revision/" + r.revision;
}
std::string file_url(const std::string& endpoint, const HubRepo& r, const std::string& commit, const std::string& f) {
  return endpoint + (r.type == "dataset" ? "/datasets/" : "/") + r.id + "/resolve/" + commit + "/" + f;
}

[[noreturn]] void http_fail(const HubRepo& r, const std::string& what, long status, bool token) {
  std::string why = "HTTP " + std::to_string(status);
  if (status == 401 || status == 403)
    why += token ? " (the token in HF_TOKEN has no access)" : " (gated or private: set HF_TOKEN)";
  else if (status == 404)
    why += " (no such " + r.type + ", revision or file)";
  throw Error(r.id + "@" + r.revision, what + ": " + why);
}

bool retryable(long status) { return status == 429 || status >= 500; }

// A request retried with exponential back-off on transport failures, 5xx and 429.
HttpResponse request_with_retries(const std::string& url, const HttpOptions& http, const FetchOptions& opt) {
  for (int attempt = 0;; ++attempt) {
    try {
      HttpResponse r = http_request(url, http);
      if (!retryable(r.status) || attempt >= opt.retries) return r;
    } catch (const Error& e) {
      if (attempt >= opt.retries) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.retry_ms << std::min(attempt, 10)));
  }
}

}  // namespace

HubRepo parse_hub_repo(const std::string& s, const std::string& type) {
  static const std::regex re("([A-Za-z0-9][A-Za-z0-9._-]*)/([A-Za-z0-9][A-Za-z0-9._-]*)(@([A-Za-z0-9._/-]+))?");
  std::smatch m;
  if (!std::regex_match(s, m, re) || s.find("..") != std::string::npos)
    throw Error("'" + s + "' is not a hub id (org/name or org/name@revision)");
  if (type != "model" && type != "dataset") throw Error("repo type must be model or dataset, not '" + type + "'");
  HubRepo r;
  r.type = type, r.id = m[1].str() + "/" + m[2].str();
  if (m[4].matched) r.revision = m[4].str();
  return r;
}

bool looks_like_hub_id(const std::string& s) {
  try {
    parse_hub_repo(s);
    return true;
  } catch (const Error&) {
    return false;
  }
}

fs::path hub_cache_dir() {
  if (auto c = env("HF_HUB_CACHE"); !c.empty()) return c;
  if (auto h = env("HF_HOME"); !h.empty()) return fs::path(h) / "hub";
  if (auto x = env("XDG_CACHE_HOME"); !x.empty()) return fs::path(x) / "huggingface" / "hub";
  return fs::path(env("HOME").empty() ? "." : env("HOME")) / ".cache" / "huggingface" / "hub";
}

fs::path hub_repo_dir(const HubRepo& r, const fs::path& cache) {
  std::string name = r.id;
  for (size_t p; (p = name.find('/')) != std::string::npos;) name.replace(p, 1, "--");
  return cache / ((r.type == "dataset" ? "datasets--" : "models--") + name);
}

std::optional<fs::path> cached_snapshot(const HubRepo& r, const fs::path& cache) {
  const fs::path dir = hub_repo_dir(r, cache);
  std::string commit = is_commit(r.revision) ? r.revision : read_small(dir / "refs" / r.revision);
  if (commit.empty()) return std::nullopt;
  const fs::path snap = dir / "snapshots" / commit;
  std::error_code ec;
  if (!fs::is_directory(snap, ec)) return std::nullopt;
  return snap;
}

std::string resolve_model_path(const std::string& arg) {
  std::error_code ec;
  if (arg.empty() || fs::exists(arg, ec) || !looks_like_hub_id(arg)) return arg;  // loaders report bad paths
  const HubRepo r = parse_hub_repo(arg);
  if (auto snap = cached_snapshot(r)) return snap->string();
  throw Error(arg, "not a file or folder, and not in the hub cache " + hub_cache_dir().string() +
                       " (download it with: eebench fetch " + arg + ")");
}

fs::path fetch_hub_repo(const HubRepo& r, FetchOptions opt) {
  if (opt.endpoint.empty()) opt.endpoint = env("HF_ENDPOINT").empty() ? "https://huggingface.co" : env("HF_ENDPOINT");
  while (!opt.endpoint.empty() && opt.endpoint.back() == '/') opt.endpoint.pop_back();
  if (opt.token.empty()) opt.token = env("HF_TOKEN");
  if (env("HF_HUB_OFFLINE") == "1" || env("HF_HUB_OFFLINE") == "true") opt.offline = true;
  if (auto ms = env("EEBENCH_FETCH_RETRY_MS"); !ms.empty()) opt.retry_ms = std::max(0, std::atoi(ms.c_str()));
  const fs::path dir = hub_repo_dir(r, opt.cache);

  if (opt.offline) {
    auto snap = cached_snapshot(r, opt.cache);
    if (!snap)
      throw Error(r.id + "@" + r.revision, "offline (HF_HUB_OFFLINE or --offline) and not in the hub cache " +
                                               opt.cache.string());
    return *snap;
  }

  HttpOptions http;
  http.token = opt.token;
  // The revision's commit and file list.
  const HttpResponse info = request_with_retries(api_url(opt.endpoint, r), http, opt);
  if (info.status != 200) http_fail(r, "repository info", info.status, !opt.token.empty());
  auto j = nlohmann::json::parse(info.body, nullptr, false);
  if (!j.is_object() || !j.contains("sha") || !j["sha"].is_string() || !j.contains("siblings") ||
      !j["siblings"].is_array())
    throw Error(api_url(opt.endpoint, r), "the hub's answer is not a repository description");
  const std::string commit = j["sha"];
  if (!is_commit(commit)) throw Error(api_url(opt.endpoint, r), "the hub gave no commit hash");
  std::vector<std::string> files;
  for (const auto& s : j["siblings"])
    if (s.is_object() && s.contains("rfilename") && s["rfilename"].is_string()) files.push_back(s["rfilename"]);
  std::vector<std::string> patterns = opt.patterns;
  if (patterns.empty() && r.type == "model") {
    patterns = {"config.json", "generation_config.json", "tokenizer.model", "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json", "*.safetensors", "*.safetensors.index.json"};
    bool safetensors = false;
    for (const auto& f : files) safetensors = safetensors || matches({"*.safetensors"}, f);
    if (!safetensors) patterns.insert(patterns.end(), {"*.gguf", "*.bin"});  // GGUF or llama2.c repos
  }
  if (patterns.empty()) patterns = {"*"};
  std::vector<std::string> wanted;
  for (const auto& f : files) {
    if (f.empty() || f[0] == '/' || f.find("..") != std::string::npos) continue;  // never outside the snapshot
    if (matches(patterns, f)) wanted.push_back(f);
  }
  if (wanted.empty()) throw Error(r.id + "@" + r.revision, "no files match the requested patterns");

  const fs::path snap = dir / "snapshots" / commit;
  for (const auto& f : wanted) {
    const fs::path link = snap / f;
    std::error_code ec;
    if (fs::exists(link, ec)) continue;  // already here (symlink to a complete blob)
    // Which blob: the LFS sha256 (X-Linked-Etag) or the git etag, and the expected size.
    HttpOptions head = http;
    head.head = true, head.follow = false;
    const std::string url = file_url(opt.endpoint, r, commit, f);
    HttpResponse h = request_with_retries(url, head, opt);
    if (h.status >= 400) http_fail(r, f, h.status, !opt.token.empty());
    std::string etag = strip_etag(h.headers.count("x-linked-etag") ? h.headers["x-linked-etag"] : h.headers["etag"]);
    if (etag.empty() || etag.find('/') != std::string::npos || etag.find("..") != std::string::npos)
      throw Error(url, "the server sent no usable ETag");
    const std::string size_h = h.headers.count("x-linked-size") ? h.headers["x-linked-size"] : h.headers["content-length"];
    const long long expect = size_h.empty() ? -1 : std::atoll(size_h.c_str());
    const bool lfs_sha = std::regex_match(etag, std::regex("[0-9a-f]{64}"));
    const fs::path blob = dir / "blobs" / etag;
    if (!fs::exists(blob, ec)) {
      fs::create_directories(blob.parent_path());
      const fs::path part = blob.string() + ".incomplete";
      std::unique_ptr<Progress> bar;
      if (!opt.quiet) bar = std::make_unique<Progress>(expect > 0 ? expect : 0, f);
      uint64_t shown = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
      auto progress = [&](uint64_t n) {
        if (bar && n > shown) bar->advance(static_cast<long>(n - shown));
        shown = std::max(shown, n);
      };
      for (int attempt = 0;; ++attempt) {
        std::string failure;
        long status = 0;
        try {
          status = http_download(url, part, http, progress).status;
          if (status == 200 || status == 206 || status == 416) break;
          if (!retryable(status)) http_fail(r, f, status, !opt.token.empty());
          failure = "HTTP " + std::to_string(status);
        } catch (const Error& e) {
          if (std::string(e.what()).find("download failed") == std::string::npos) throw;
          failure = e.what();  // a dropped connection: resume from what arrived
        }
        if (attempt >= opt.retries)
          throw Error(r.id + "@" + r.revision, f + ": gave up after " + std::to_string(attempt + 1) +
                                                   " attempts (" + failure + ")");
        if (!opt.quiet) std::fprintf(stderr, "eebench: %s: %s; retrying\n", f.c_str(), failure.c_str());
        std::this_thread::sleep_for(std::chrono::milliseconds(opt.retry_ms << std::min(attempt, 10)));
      }
      if (bar) bar->finish();
      const auto got = static_cast<long long>(fs::file_size(part));
      if (expect >= 0 && got != expect) {
        fs::remove(part, ec);
        throw Error(r.id + "@" + r.revision, f + ": size " + std::to_string(got) + " bytes, the server said " +
                                                 std::to_string(expect) + " (partial file removed)");
      }
      if (lfs_sha) {
        const std::string sha = sha256_file(part);
        if (sha != etag) {
          fs::remove(part, ec);
          throw Error(r.id + "@" + r.revision, f + ": sha256 " + sha + " does not match the hub's " + etag +
                                                   " (corrupt download removed)");
        }
      }
      fs::rename(part, blob);
    }
    // snapshots/<commit>/<f> → ../../blobs/<etag>, one "../" more per folder level of f.
    fs::path target = "..";
    const fs::path folders = fs::path(f).parent_path();
    for (const auto& part : folders) {
      (void)part;
      target /= "..";
    }
    target = target / ".." / "blobs" / etag;
    symlink_atomic(target, link);
  }
  if (!is_commit(r.revision)) write_atomic(dir / "refs" / r.revision, commit);
  return snap;
}

}  // namespace eeb
