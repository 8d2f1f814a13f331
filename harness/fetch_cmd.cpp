// eebench fetch: download a model or dataset from the hub into the hub-layout cache (harness/hf_hub.h).
#include <cstdio>

#include "harness/cli.h"
#include "harness/hf_hub.h"

namespace eeb {

int cmd_fetch(const FetchArgs& a) {
  const HubRepo r = parse_hub_repo(a.repo, a.type);
  FetchOptions o;
  o.patterns = a.files;
  if (!a.cache.empty()) o.cache = a.cache;
  o.offline = a.offline;
  o.quiet = a.quiet;
  const auto snap = fetch_hub_repo(r, o);
  std::printf("%s\n", snap.string().c_str());
  return 0;
}

}  // namespace eeb
