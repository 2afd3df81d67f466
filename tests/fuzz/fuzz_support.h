#pragma once

#include "util/error.h"

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sde::fuzz {

// The input as the bytes of a file.
inline std::string bytesOf(const uint8_t *data, size_t size)
{
    return std::string(reinterpret_cast<const char *>(data), size);
}

// Runs one parse of the input. sde::Error is a parser's expected answer to a bad file; anything
// else (another exception, a crash, a sanitizer report, a timeout, memory past -rss_limit_mb)
// leaves this function to libFuzzer, which reports it as a finding.
template <typename Parse>
void expectParsedOrRefused(Parse parse)
{
    try {
        parse();
    } catch (const sde::Error &) {
    }
}

// One thread for LibTorch: the fuzzers run one input at a time, and its pool would only spin.
inline void initializeFuzzing()
{
    torch::set_num_threads(1);
}

} // namespace sde::fuzz
