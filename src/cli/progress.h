// A progress bar on stderr for long commands (kiln eval, kiln report); silent when stderr is not a
// terminal, so piped and logged output stays clean.
#pragma once
#include <cstdio>
#include <functional>
#include <string>

#include "cli/command.h"

namespace kiln::cli {

inline std::function<void(size_t, size_t)> progress_bar(const std::string& label) {
  if (!stderr_is_tty()) return nullptr;
  return [label](size_t done, size_t total) {
    const int width = 30;
    int filled = total ? (int)(width * done / total) : width;
    std::fprintf(stderr, "\r%s [%s%s] %zu/%zu", label.c_str(), std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total);
    if (done >= total) std::fputs("\r\033[K", stderr);  // clear the line when finished
    std::fflush(stderr);
  };
}

}  // namespace kiln::cli
