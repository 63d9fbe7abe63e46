// The one small error hierarchy of kiln. Every message says what is wrong and what to do;
// the CLI maps each kind to its own exit code.
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace kiln {

enum class ErrorKind { BadModel, BadInput, Unsupported, Io, Internal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  // Process exit code for the CLI: 2 bad model/input bytes, 3 bad input (feeds, flags),
  // 4 unsupported, 5 I/O, 70 internal.
  int exit_code() const;

 private:
  ErrorKind kind_;
};

struct BadModel : Error { explicit BadModel(const std::string& m) : Error(ErrorKind::BadModel, m) {} };
struct BadInput : Error { explicit BadInput(const std::string& m) : Error(ErrorKind::BadInput, m) {} };
struct Unsupported : Error { explicit Unsupported(const std::string& m) : Error(ErrorKind::Unsupported, m) {} };
struct IoError : Error { explicit IoError(const std::string& m) : Error(ErrorKind::Io, m) {} };
struct InternalError : Error { explicit InternalError(const std::string& m) : Error(ErrorKind::Internal, m) {} };

inline int Error::exit_code() const {
  switch (kind_) {
    case ErrorKind::BadModel: return 2;
    case ErrorKind::BadInput: return 3;
    case ErrorKind::Unsupported: return 4;
    case ErrorKind::Io: return 5;
    case ErrorKind::Internal: return 70;
  }
  return 70;
}

}  // namespace kiln

// Throws kiln::E(fmt::format(...)) when cond is false.
#define KILN_CHECK(cond, E, ...) \
  do {                           \
    if (!(cond)) throw ::kiln::E(fmt::format(__VA_ARGS__)); \
  } while (0)
