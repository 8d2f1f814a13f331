// eebench fetch against a real HTTP server on 127.0.0.1 (tests/hub/fake_hub.py, started here): hub
// cache layout, resume after a dropped connection, retries, errors, checksums, offline mode, and
// models that other tools put in the cache. Nothing here touches the internet.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/error.h"
#include "harness/hf_hub.h"
#include "harness/http_download.h"
#include "tests/cli/cli_util.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

bool have_python() { return std::system("python3 -c 'import http.server' >/dev/null 2>&1") == 0; }

#define SKIP_WITHOUT_PYTHON()                                                              \
  do {                                                                                     \
    if (!have_python()) EEB_SKIP("python3 not found (the fake hub server is a Python script)"); \
  } while (0)

std::string bytes_of(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void put(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}
std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g());
  return s;
}

// The fake hub, serving `root`, with per-file faults; killed when the test ends.
struct Hub {
  fs::path dir, root, log;
  pid_t pid = -1;
  int port = 0;
  explicit Hub(const std::string& tag, const json& faults = json::object()) {
    dir = temp_dir("hub_" + tag);
    root = dir / "root";
    log = dir / "log.jsonl";
    fs::create_directories(root);
    put(dir / "faults.json", faults.dump());
  }
  void start() {
    const std::string script = std::string(EEB_SOURCE_DIR) + "/tests/hub/fake_hub.py";
    const std::string port_file = (dir / "port").string();
    pid = ::fork();
    if (pid == 0) {
      if (!std::freopen((dir / "server.err").c_str(), "w", stderr)) ::_exit(126);  // its tracebacks stay out of the log
      ::execlp("python3", "python3", script.c_str(), "--root", root.c_str(), "--port-file", port_file.c_str(),
               "--log", log.c_str(), "--faults", (dir / "faults.json").c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(fs::exists(port_file));
    port = std::stoi(bytes_of(port_file));
    ::setenv("HF_ENDPOINT", endpoint().c_str(), 1);
  }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~Hub() {
    stop();
    ::unsetenv("HF_ENDPOINT");
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::vector<json> requests() const {
    std::vector<json> out;
    std::ifstream f(log);
    for (std::string line; std::getline(f, line);) out.push_back(json::parse(line));
    return out;
  }
};

FetchOptions quick(const fs::path& cache) {
  FetchOptions o;
  o.cache = cache;
  o.retry_ms = 5;
  o.quiet = true;
  return o;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("fetch: files land in the hub layout, byte for byte; a second fetch downloads nothing", "[hub]") {
  SKIP_WITHOUT_PYTHON();
  Hub hub("layout");
  const std::string weights = random_bytes(200000, 1), config = "{\"dim\": 16}";
  put(hub.root / "org/tiny/model.safetensors", weights);
  put(hub.root / "org/tiny/config.json", config);
  put(hub.root / "org/tiny/README.md", "not fetched by default");
  hub.start();
  const fs::path cache = hub.dir / "cache";
  const fs::path snap = fetch_hub_repo(parse_hub_repo("org/tiny"), quick(cache));
  const fs::path repo = cache / "models--org--tiny";
  CHECK(snap == repo / "snapshots" / kCommit);
  CHECK(bytes_of(repo / "refs/main") == kCommit);
  CHECK(fs::is_symlink(snap / "model.safetensors"));
  CHECK(fs::read_symlink(snap / "model.safetensors").string().rfind("../../blobs/", 0) == 0);
  CHECK(bytes_of(snap / "model.safetensors") == weights);
  CHECK(bytes_of(snap / "config.json") == config);
  CHECK_FALSE(fs::exists(snap / "README.md"));
  // The LFS file's blob is named by its sha256, as huggingface_hub names it.
  CHECK(fs::exists(repo / "blobs" / sha256_file(hub.root / "org/tiny/model.safetensors")));
  const size_t n = hub.requests().size();
  fetch_hub_repo(parse_hub_repo("org/tiny"), quick(cache));
  size_t gets = 0;
  for (size_t i = n; i < hub.requests().size(); ++i)
    gets += hub.requests()[i]["path"].get<std::string>().find("/resolve/") != std::string::npos;
  CHECK(gets == 0);  // only the repository info was asked again
}

TEST_CASE("fetch: datasets go to datasets--org--name, files picked by glob, folders kept", "[hub]") {
  SKIP_WITHOUT_PYTHON();
  Hub hub("dataset");
  put(hub.root / "datasets/org/sst/dev.tsv", "sentence\tlabel\nfine .\t1\n");
  put(hub.root / "datasets/org/sst/sub/train.tsv", "sentence\tlabel\n");
  put(hub.root / "datasets/org/sst/notes.md", "#");
  hub.start();
  FetchOptions o = quick(hub.dir / "cache");
  o.patterns = {"*.tsv"};
  const fs::path snap = fetch_hub_repo(parse_hub_repo("org/sst", "dataset"), o);
  CHECK(snap == hub.dir / "cache/datasets--org--sst/snapshots" / kCommit);
  CHECK(bytes_of(snap / "dev.tsv") == "sentence\tlabel\nfine .\t1\n");
  CHECK(fs::read_symlink(snap / "sub/train.tsv").string().rfind("../../../blobs/", 0) == 0);
  CHECK(bytes_of(snap / "sub/train.tsv") == "sentence\tlabel\n");
  CHECK_FALSE(fs::exists(snap / "notes.md"));
}

TEST_CASE("fetch: a dropped connection resumes with a Range request; 5xx are retried", "[hub]") {
  SKIP_WITHOUT_PYTHON();
  Hub hub("resume", {{"model.safetensors", {{"drop_after", 300000}}}, {"config.json", {{"status", 503}, {"times", 2}}}});
  const std::string weights = random_bytes(1000000, 2);
  put(hub.root / "org/tiny/model.safetensors", weights);
  put(hub.root / "org/tiny/config.json", "{}");
  hub.start();
  const fs::path snap = fetch_hub_repo(parse_hub_repo("org/tiny"), quick(hub.dir / "cache"));
  CHECK(bytes_of(snap / "model.safetensors") == weights);
  long sent = 0;
  bool resumed = false;
  int config_503 = 0;
  for (const auto& r : hub.requests()) {
    const std::string path = r["path"];
    if (path.rfind("/lfs/", 0) == 0) {
      sent += r["sent"].get<long>();
      resumed = resumed || r["range"] == "bytes=300000-";
    }
    if (path.find("config.json") != std::string::npos && r["status"] == 503) ++config_503;
  }
  CHECK(resumed);
  CHECK(sent == 1000000);  // each byte sent once: 300000 before the drop, 700000 after
  CHECK(config_503 == 2);
}

TEST_CASE("fetch: a server that ignores Range restarts the file; a corrupt file is rejected", "[hub]") {
  SKIP_WITHOUT_PYTHON();
  Hub hub("range", {{"a.safetensors", {{"drop_after", 1000}, {"ignore_range", true}}},
                    {"b.safetensors", {{"corrupt", true}, {"times", 100}}}});
  const std::string a = random_bytes(50000, 3), b = random_bytes(50000, 4);
  put(hub.root / "org/one/a.safetensors", a);
  put(hub.root / "org/two/b.safetensors", b);
  hub.start();
  const fs::path cache = hub.dir / "cache";
  CHECK(bytes_of(fetch_hub_repo(parse_hub_repo("org/one"), quick(cache)) / "a.safetensors") == a);
  const std::string e = error_of([&] { fetch_hub_repo(parse_hub_repo("org/two"), quick(cache)); });
  CHECK_THAT(e, Catch::StartsWith("org/two@main: b.safetensors: sha256 ") && Catch::Contains("does not match"));
  CHECK(e.find('\n') == std::string::npos);
  CHECK_FALSE(fs::exists(cache / "models--org--two/snapshots" / kCommit / "b.safetensors"));
  for (const auto& f : fs::directory_iterator(cache / "models--org--two/blobs"))
    FAIL("left in blobs: " << f.path());
}

TEST_CASE("fetch: missing, gated and failing repos are one error line; a token opens a gated one", "[hub]") {
  SKIP_WITHOUT_PYTHON();
  Hub hub("errors", {{"config.json", {{"status", 500}, {"times", 100}}}});
  put(hub.root / "org/gated-model/model.safetensors", random_bytes(1000, 5));
  put(hub.root / "org/broken/config.json", "{}");
  hub.start();
  const fs::path cache = hub.dir / "cache";
  CHECK(error_of([&] { fetch_hub_repo(parse_hub_repo("org/nothing"), quick(cache)); }) ==
        "org/nothing@main: repository info: HTTP 404 (no such model, revision or file)");
  ::unsetenv("HF_TOKEN");
  CHECK(error_of([&] { fetch_hub_repo(parse_hub_repo("org/gated-model"), quick(cache)); }) ==
        "org/gated-model@main: repository info: HTTP 401 (gated or private: set HF_TOKEN)");
  FetchOptions with_token = quick(cache);
  with_token.token = "secret";
  CHECK(fs::exists(fetch_hub_repo(parse_hub_repo("org/gated-model"), with_token) / "model.safetensors"));
  FetchOptions few = quick(cache);
  few.retries = 2;
  CHECK(error_of([&] { fetch_hub_repo(parse_hub_repo("org/broken"), few); }) ==
        "org/broken@main: config.json: HTTP 500");
  CHECK_THAT(error_of([] { parse_hub_repo("not a repo"); }), Catch::Contains("is not a hub id"));
}

TEST_CASE("offline: cached repos resolve with the server gone; others are a clear error", "[hub]") {
  SKIP_WITHOUT_PYTHON();
  Hub hub("offline");
  put(hub.root / "org/tiny/config.json", "{}");
  hub.start();
  const fs::path cache = hub.dir / "cache";
  const fs::path snap = fetch_hub_repo(parse_hub_repo("org/tiny"), quick(cache));
  hub.stop();
  FetchOptions off = quick(cache);
  off.offline = true;
  CHECK(fetch_hub_repo(parse_hub_repo("org/tiny"), off) == snap);
  CHECK_THAT(error_of([&] { fetch_hub_repo(parse_hub_repo("org/other"), off); }),
             Catch::StartsWith("org/other@main: offline") && Catch::Contains(cache.string()));
  // Without offline mode, the dead server is a transport error naming the URL, after the retries.
  FetchOptions on = quick(cache);
  on.retries = 1;
  CHECK_THAT(error_of([&] { fetch_hub_repo(parse_hub_repo("org/tiny"), on); }),
             Catch::Contains("download failed"));
}

TEST_CASE("a cache written by other tools in huggingface_hub's layout is found", "[hub]") {
  const fs::path cache = temp_dir("hub_foreign");
  const std::string sha = "89abcdef0123456789abcdef0123456789abcdef";
  const fs::path repo = cache / "models--meta-llama--Llama-2-7b-hf";
  put(repo / "blobs/abc", "{}");
  put(repo / "refs/main", sha + "\n");
  fs::create_directories(repo / "snapshots" / sha);
  fs::create_symlink("../../blobs/abc", repo / "snapshots" / sha / "config.json");
  ::setenv("HF_HUB_CACHE", cache.c_str(), 1);
  CHECK(resolve_model_path("meta-llama/Llama-2-7b-hf") == (repo / "snapshots" / sha).string());
  CHECK(resolve_model_path("meta-llama/Llama-2-7b-hf@" + sha) == (repo / "snapshots" / sha).string());
  CHECK_THAT(error_of([] { resolve_model_path("meta-llama/Llama-2-13b-hf"); }),
             Catch::Contains("eebench fetch meta-llama/Llama-2-13b-hf"));
  CHECK(resolve_model_path(cache.string()) == cache.string());  // an existing path is a path
  ::unsetenv("HF_HUB_CACHE");
  ::setenv("HF_HOME", cache.c_str(), 1);
  CHECK(hub_cache_dir() == cache / "hub");
  ::unsetenv("HF_HOME");
  fs::remove_all(cache);
}

TEST_CASE("eebench fetch, then eebench run --model org/name from the cache", "[hub]") {
  SKIP_WITHOUT_PYTHON();
  SKIP_WITHOUT_DATA();
  Hub hub("cli");
  fs::create_directories(hub.root / "org");
  fs::create_directory_symlink(shared_data() + "/models/sst-lm-12L", hub.root / "org/sst-lm");
  hub.start();
  const std::string cache = (hub.dir / "cache").string();
  ::setenv("HF_HUB_CACHE", cache.c_str(), 1);
  auto f = run_cmd("fetch org/sst-lm -q");
  INFO(f.output);
  REQUIRE(f.status == 0);
  CHECK_THAT(f.output, Catch::Contains(cache + "/models--org--sst-lm/snapshots/" + kCommit));
  hub.stop();
  auto r = run_cmd("run -q --model org/sst-lm --task sst2 --limit 4 --reps 0 --warmup 0 --data " +
                   q(shared_data() + "/datasets") + " --db " + q(hub.dir.string() + "/r.db"));
  INFO(r.output);
  CHECK(r.status == 0);
  // Valid task data: the task loads before the model (a bad task file stores no run).
  auto missing = run_cmd("run -q --model org/absent --task sst2 --data " + q(shared_data() + "/datasets") +
                         " --db " + q(hub.dir.string() + "/r.db"));
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::Contains("eebench fetch org/absent"));
  ::unsetenv("HF_HUB_CACHE");
}
