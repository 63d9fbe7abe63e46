// JSON Lines files (one JSON value per line, blank lines skipped), as calibration and evaluation
// data are written.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace kiln {

// Calls `each(value, line_number)` for every non-blank line of `path`, in order. `what` names the
// file in errors ("calibration file", "evaluation data"): IoError when it cannot be read, BadInput
// naming the line when a line is not JSON.
void for_each_json_line(const std::string& path, const std::string& what,
                        const std::function<void(const nlohmann::json&, int)>& each);

}  // namespace kiln
