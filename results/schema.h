// The results database's schema: version, creation and migrations (internal to results/).
// docs/SCHEMA.md explains every table and column; keep the two in step.
#pragma once
#include <cstdint>
#include <string>

struct sqlite3;

namespace eeb::sql {

inline constexpr int kSchemaVersion = 3;
// PRAGMA application_id of every eebench results database: "EEB1" in ASCII.
inline constexpr int64_t kApplicationId = 0x45454231;

// Creates the schema in an empty database or migrates an older eebench one, under a write lock
// (several processes may open a new database at once). Throws Error(path, ...) when the database
// belongs to another program or has a schema newer than kSchemaVersion.
void ensure_schema(sqlite3* db, const std::string& path);

}  // namespace eeb::sql
