// Nested JSON arrays of values as one row-major list: what the v2 codec's tensor `data` and /predict's
// `pixels` both accept. Internal to src/serve.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace edgeq::serve {

// Appends the leaves of `j` (itself, when it is not an array) to `out` in row-major order. Error
// (kInvalidArgument): "<field> is nested too deeply" past 17 levels, `overflow` as soon as there would be
// more than `limit` leaves (so the list never outgrows what the caller can take).
void flatten_json(const nlohmann::ordered_json& j, std::vector<const nlohmann::ordered_json*>& out, size_t limit,
                  const std::string& field, const std::string& overflow);

}  // namespace edgeq::serve
