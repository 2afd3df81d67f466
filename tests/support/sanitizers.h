#pragma once

// SDE_UNDER_ASAN: 1 in a build under AddressSanitizer (the asan preset: clang; or GCC's
// -fsanitize=address), else 0. ASan's operator new ends the process on a request it cannot meet
// instead of throwing std::bad_alloc, so tests of code that relies on that throw skip under it.
#if defined(__SANITIZE_ADDRESS__)
#define SDE_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SDE_UNDER_ASAN 1
#endif
#endif
#ifndef SDE_UNDER_ASAN
#define SDE_UNDER_ASAN 0
#endif
