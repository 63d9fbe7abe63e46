// kiln <subcommand>: parses arguments, runs the command, maps errors to exit codes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cli/command.h"
#include "core/error.h"

// libgomp reads GOMP_SPINCOUNT once, when it is loaded, before main runs. Its default (300,000
// spins) makes a waiting thread burn its core at every barrier, which stalls whole runs when the
// machine is shared. The executable's pre-initialisation array runs before any shared library's
// initialisers, so a shorter spin is set there (unless the user chose one).
static void kiln_preinit(int, char**, char**) { setenv("GOMP_SPINCOUNT", "10000", 0); }
__attribute__((section(".preinit_array"), used)) static void (*kiln_preinit_entry)(int, char**, char**) = &kiln_preinit;

namespace kiln::cli {

static std::vector<Command>& commands() {
  static std::vector<Command> list;
  return list;
}

bool register_command(Command c) {
  commands().push_back(std::move(c));
  return true;
}

bool stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

}  // namespace kiln::cli

int main(int argc, char** argv) {
  using namespace kiln::cli;
  CLI::App app{"kiln: export, quantize, run and report transformer models (ONNX, INT8, CPU)", "kiln"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kiln 0.1.0");
  std::vector<std::pair<CLI::App*, Runner>> runners;
  auto& cmds = commands();
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners.push_back({sub, c.setup(*sub)});
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 3;
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const kiln::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "kiln: error: out of memory\n");
    return 70;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: internal: %s\n", e.what());
    return 70;
  }
  return 0;
}
