// The error classes are public (include/kiln/error.h); this adds KILN_CHECK for kiln's own code.
#pragma once
#include <fmt/format.h>

#include "kiln/error.h"

// Throws kiln::E(fmt::format(...)) when cond is false.
#define KILN_CHECK(cond, E, ...)                            \
  do {                                                      \
    if (!(cond)) throw ::kiln::E(fmt::format(__VA_ARGS__)); \
  } while (0)
