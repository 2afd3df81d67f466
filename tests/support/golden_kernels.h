#pragma once

#include "util/torch_compat.h"

namespace sde::test {

// Whether LibTorch here runs the kernels the reference goldens were recorded with: PyTorch 1.13 on
// a CPU with AVX-512, where ATen takes its AVX512 kernels (it needs avx512f, bw, vl and dq). Debian's
// LibTorch 1.13 then repeats the reference bit for bit in most places and step for step in
// adaptive solvers. On a CPU with AVX2 but no AVX-512 (seen on a machine of this project's kind)
// ATen takes its AVX2 kernels, which round in another order, as LibTorch 2.x does: a single
// evaluation differs by 1.75e-6 of its scale instead of below 1e-6, and an adaptive RK45 run
// drifts within the solver's tolerance.
inline bool kernelsAsInTheGoldens()
{
    return compat::kReferenceLibTorch && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

} // namespace sde::test
