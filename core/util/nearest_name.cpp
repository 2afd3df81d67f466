#include "util/nearest_name.h"

#include <algorithm>
#include <limits>

namespace sde {

std::optional<std::string> nearestName(const std::string &name, const std::vector<std::string> &names)
{
    if (names.empty() || name.size() > 256)
        return std::nullopt;
    const std::string *nearest = &names.front();
    size_t fewest = std::numeric_limits<size_t>::max();
    std::vector<size_t> previous, row;
    for (const std::string &candidate : names) {
        previous.resize(candidate.size() + 1);
        row.resize(candidate.size() + 1);
        for (size_t j = 0; j <= candidate.size(); ++j)
            previous[j] = j;
        for (size_t i = 1; i <= name.size(); ++i) {
            row[0] = i;
            for (size_t j = 1; j <= candidate.size(); ++j)
                row[j] = std::min(
                    {previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (name[i - 1] == candidate[j - 1] ? 0 : 1)});
            std::swap(previous, row);
        }
        if (previous[candidate.size()] < fewest) {
            fewest = previous[candidate.size()];
            nearest = &candidate;
        }
    }
    if (fewest > std::max<size_t>(2, name.size() / 3))
        return std::nullopt;
    return *nearest;
}

} // namespace sde
