// Subcommands register themselves: each cli/<name>.cc adds its options to a CLI11 subcommand and
// returns the function that runs it. Commands are thin: they parse flags and call the library.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace kiln::cli {

using Runner = std::function<int()>;
using CommandSetup = std::function<Runner(CLI::App& sub)>;

struct Command {
  std::string name;
  std::string help;
  CommandSetup setup;
};

bool register_command(Command c);

// Output helpers: stdout for results, stderr for progress and warnings (quiet when not a TTY).
bool stderr_is_tty();

}  // namespace kiln::cli

#define KILN_COMMAND(ident, name, help)                                                              \
  static ::kiln::cli::Runner ident(CLI::App& sub);                                                   \
  [[maybe_unused]] static const bool ident##_registered = ::kiln::cli::register_command({name, help, &ident}); \
  static ::kiln::cli::Runner ident(CLI::App& sub)
