// HTTP for `eebench fetch` (libcurl): small GETs (JSON, headers) and resumable file downloads.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

namespace eeb {

struct HttpResponse {
  long status = 0;                             // of the last response (after redirects when followed)
  std::map<std::string, std::string> headers;  // of the last response; names in lower case
  std::string body;                            // http_request only
};

struct HttpOptions {
  std::string token;     // sent as "Authorization: Bearer" (curl keeps it from other hosts on redirects)
  bool follow = true;    // follow redirects
  bool head = false;     // HEAD instead of GET
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // abort when less than 1 byte/s arrives for this long
};

// One request; transport failures throw Error(url, ...) with curl's reason. Any HTTP status returns.
HttpResponse http_request(const std::string& url, const HttpOptions& opt);

// Appends the rest of `url` to `part` (HTTP Range from its current size; a server that ignores the
// range and answers 200 restarts the file). progress(bytes_in_part) is called as data arrives.
// Transport failures (a dropped connection included) throw Error; HTTP errors return their status.
HttpResponse http_download(const std::string& url, const std::filesystem::path& part, const HttpOptions& opt,
                           const std::function<void(uint64_t)>& progress);

// Lower-case hex SHA-256 of a file (OpenSSL).
std::string sha256_file(const std::filesystem::path& p);

}  // namespace eeb
