#include "core/params.h"

#include <algorithm>

#include "core/error.h"

namespace eeb {

void check_params(const nlohmann::json& params, std::initializer_list<const char*> known,
                  const std::string& owner) {
  if (!params.is_object()) throw Error(owner + ": parameters must be a JSON object");
  for (auto it = params.begin(); it != params.end(); ++it) {
    bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; });
    if (!ok) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw Error(owner + ": unknown parameter '" + it.key() + "'" +
                  (list.empty() ? " (it takes none)" : " (known: " + list + ")"));
    }
  }
}

}  // namespace eeb
