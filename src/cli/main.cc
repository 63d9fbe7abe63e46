// kiln <subcommand>: parses arguments, runs the command, maps errors to exit codes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ios>
#include <string>
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

namespace {

// Every error is one line on stderr: "kiln: error: <what is wrong and what to do>". A message that
// arrives with line breaks (from a library) is folded onto that line.
int fail(int code, const std::string& what) {
  std::string line = what;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  for (size_t at = line.find_first_of("\r\n"); at != std::string::npos; at = line.find_first_of("\r\n", at)) {
    size_t end = line.find_first_not_of("\r\n ", at);
    line.replace(at, (end == std::string::npos ? line.size() : end) - at, "; ");
  }
  std::fflush(stdout);
  std::fprintf(stderr, "kiln: error: %s\n", line.c_str());
  return code;
}

// Test hook: with KILN_TEST_INTERNAL_ERROR set (to anything non-empty) a subcommand fails with an
// internal error after parsing its flags, so tests can see exit code 70 and its one-line message
// without a real bug. Not for users; documented in README.md's exit-code line.
void internal_error_test_hook() {
  const char* v = std::getenv("KILN_TEST_INTERNAL_ERROR");
  if (v && *v) throw kiln::InternalError("KILN_TEST_INTERNAL_ERROR is set (test hook); unset it to run normally");
}

}  // namespace

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
  // A first word that is neither a flag nor a command: CLI11 would only say that a subcommand is
  // required, so name the word here.
  if (argc > 1 && argv[1][0] != '-' && std::none_of(cmds.begin(), cmds.end(), [&](const Command& c) {
        return c.name == argv[1];
      })) {
    std::string names;
    for (const auto& c : cmds) names += (names.empty() ? "" : ", ") + c.name;
    return fail(3, fmt::format("'{}' is not a kiln command; the commands are {} (see 'kiln --help')", argv[1], names));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: to stdout, exit 0
  } catch (const CLI::ParseError& e) {
    // CLI11's own report is two lines (the error, then "Run with --help ..."); kiln's is one.
    std::string help = "kiln --help";
    for (auto& [sub, run] : runners)
      if (sub->parsed()) help = "kiln " + sub->get_name() + " --help";
    return fail(3, std::string(e.what()) + "; see '" + help + "'");
  }
  try {
    internal_error_test_hook();
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const kiln::Error& e) {
    return fail(e.exit_code(), e.what());
  } catch (const std::bad_alloc&) {
    return fail(70, "out of memory");
  } catch (const std::filesystem::filesystem_error& e) {
    // Reading or writing a file failed below kiln's own checks: an I/O error, not a kiln bug.
    return fail(5, e.what());
  } catch (const std::ios_base::failure& e) {
    return fail(5, e.what());
  } catch (const std::exception& e) {
    return fail(70, std::string("internal: ") + e.what() + " (a bug in kiln; please report it)");
  }
  return 0;
}
