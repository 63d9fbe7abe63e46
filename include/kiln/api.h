// KILN_API marks what libkiln.so exports. The library is built with -fvisibility=hidden, so
// everything else (the modules under src/) stays internal to it.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif
