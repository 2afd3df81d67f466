#pragma once

// The reference's small fixture checkpoints (tests/data/reference/fixtures), loaded as models.
#include "io/model_file.h"

#include "test_support.h"

#include <string>

namespace sde::test {

// "ncsnpp_ve_small" or "ddpmpp_vp_small", with its config.
inline LoadedModel fixtureModel(const std::string &name)
{
    LoadOptions options;
    options.config = fixtureDir(name) + "/config.json";
    return loadModelFile(fixtureDir(name) + "/checkpoint.pth", options);
}

} // namespace sde::test
