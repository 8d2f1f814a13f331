#include "harness/http_download.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"

namespace eeb {
namespace fs = std::filesystem;

namespace {

// curl_global_init once per process, before any thread could race on it.
void global_init() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!ok) throw Error("libcurl: global initialisation failed");
}

struct Easy {
  CURL* h = nullptr;
  curl_slist* hdrs = nullptr;
  char err[CURL_ERROR_SIZE] = {};
  Easy() {
    global_init();
    h = curl_easy_init();
    if (!h) throw Error("libcurl: cannot create a handle");
  }
  ~Easy() {
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
  }
};

// Headers of the last response in a redirect chain (each status line starts a new set).
size_t on_header(char* p, size_t size, size_t n, void* user) {
  auto* r = static_cast<HttpResponse*>(user);
  std::string line(p, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();
    const auto sp = line.find(' ');
    if (sp != std::string::npos) r->status = std::atol(line.c_str() + sp + 1);
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string k = line.substr(0, colon), v = line.substr(colon + 1);
    for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    v.erase(0, v.find_first_not_of(" \t"));
    r->headers[k] = v;
  }
  return size * n;
}

size_t on_body(char* p, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(p, size * n);
  return size * n;
}

void setup(Easy& e, const std::string& url, const HttpOptions& opt, HttpResponse& r) {
  curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e.h, CURLOPT_ERRORBUFFER, e.err);
  curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, opt.follow ? 1L : 0L);
  curl_easy_setopt(e.h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout_s);
  curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_TIME, opt.stall_timeout_s);
  curl_easy_setopt(e.h, CURLOPT_USERAGENT, "eebench/0.1 (libcurl)");
  curl_easy_setopt(e.h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e.h, CURLOPT_HEADERDATA, &r);
  if (opt.head) curl_easy_setopt(e.h, CURLOPT_NOBODY, 1L);
  if (!opt.token.empty()) {
    e.hdrs = curl_slist_append(e.hdrs, ("Authorization: Bearer " + opt.token).c_str());
    curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.hdrs);
  }
}

[[noreturn]] void fail(const Easy& e, CURLcode rc, const std::string& url) {
  throw Error(url, std::string("download failed: ") + (e.err[0] ? e.err : curl_easy_strerror(rc)));
}

struct PartFile {
  FILE* f = nullptr;
  HttpResponse* r = nullptr;
  uint64_t start = 0, size = 0;
  bool decided = false;
  const std::function<void(uint64_t)>* progress = nullptr;
  const fs::path* path = nullptr;
};

size_t on_file(char* p, size_t size, size_t n, void* user) {
  auto* pf = static_cast<PartFile*>(user);
  if (!pf->decided) {  // first bytes of the body: is it the range we asked for?
    pf->decided = true;
    if (pf->r->status == 200 && pf->start > 0) {  // the server ignored Range: start over
      if (std::fflush(pf->f) != 0 || ::ftruncate(::fileno(pf->f), 0) != 0 || std::fseek(pf->f, 0, SEEK_SET) != 0)
        return 0;
      pf->size = 0;
    } else if (pf->r->status >= 300) {
      return size * n;  // an error page: not written (the status is returned to the caller)
    }
  }
  if (pf->r->status >= 300) return size * n;
  if (std::fwrite(p, 1, size * n, pf->f) != size * n) return 0;  // disk full: curl aborts the transfer
  pf->size += size * n;
  if (*pf->progress) (*pf->progress)(pf->size);
  return size * n;
}

}  // namespace

HttpResponse http_request(const std::string& url, const HttpOptions& opt) {
  Easy e;
  HttpResponse r;
  setup(e, url, opt, r);
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &r.body);
  const CURLcode rc = curl_easy_perform(e.h);
  if (rc != CURLE_OK) fail(e, rc, url);
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

HttpResponse http_download(const std::string& url, const fs::path& part, const HttpOptions& opt,
                           const std::function<void(uint64_t)>& progress) {
  Easy e;
  HttpResponse r;
  setup(e, url, opt, r);
  std::error_code ec;
  const uint64_t have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(part.c_str(), "ab"), &std::fclose);
  if (!f) throw Error(part.string(), "cannot write the download");
  PartFile pf{f.get(), &r, have, have, false, &progress, &part};
  if (have > 0) curl_easy_setopt(e.h, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(have));
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, on_file);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &pf);
  const CURLcode rc = curl_easy_perform(e.h);
  if (std::fflush(f.get()) != 0) throw Error(part.string(), "cannot write the download (disk full?)");
  if (rc == CURLE_WRITE_ERROR) throw Error(part.string(), "cannot write the download (disk full?)");
  // The server did not resume (it ignored Range, or cannot satisfy it): start the file over.
  if (rc == CURLE_RANGE_ERROR && have > 0) {
    f.reset();
    fs::resize_file(part, 0);
    return http_download(url, part, opt, progress);
  }
  if (rc != CURLE_OK) fail(e, rc, url);
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

std::string sha256_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error(p.string(), "cannot read");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("OpenSSL: SHA-256 unavailable");
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(f.gcount()));
  }
  if (f.bad()) throw Error(p.string(), "read error");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += hex[md[i] >> 4], out += hex[md[i] & 15];
  return out;
}

}  // namespace eeb
