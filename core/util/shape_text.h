#pragma once

#include <ATen/core/TensorBody.h>

#include <string>

namespace sde {

// "[2, 3, 16, 16]": a tensor shape as error messages show it.
inline std::string shapeText(at::IntArrayRef shape)
{
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

} // namespace sde
