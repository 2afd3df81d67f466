#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sde {

// The name of `names` fewest single-character edits away from `name` (Levenshtein distance; the
// first on a tie), when it is near enough to be a slip: at most max(2, a third of the name's
// length) edits away; nothing otherwise, for an empty list, or for a name over 256 characters.
// An unknown preset's and an unknown config key's messages name it ("did you mean ...").
std::optional<std::string> nearestName(const std::string &name, const std::vector<std::string> &names);

} // namespace sde
