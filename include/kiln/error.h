// kiln's errors: one small hierarchy under kiln::Error (a std::runtime_error). Every message is
// one line saying what is wrong and what to do. The kind tells a caller whose fault it is, and
// exit_code() is what the kiln command line exits with for it.
#pragma once
#include <stdexcept>
#include <string>

#include "kiln/api.h"

namespace kiln {

enum class ErrorKind { BadModel, BadInput, Unsupported, Io, Internal };

class KILN_API Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  // Process exit code for the CLI: 2 bad model/input bytes, 3 bad input (feeds, flags),
  // 4 unsupported, 5 I/O, 70 internal.
  int exit_code() const;

 private:
  ErrorKind kind_;
};

// A model file or folder that is malformed or does not fit what was asked of it.
struct KILN_API BadModel : Error {
  explicit BadModel(const std::string& m) : Error(ErrorKind::BadModel, m) {}
};
// Inputs, feeds, options or flags that are wrong (also: a run past its limits).
struct KILN_API BadInput : Error {
  explicit BadInput(const std::string& m) : Error(ErrorKind::BadInput, m) {}
};
// Valid, but kiln does not do it (an op, an architecture, a device).
struct KILN_API Unsupported : Error {
  explicit Unsupported(const std::string& m) : Error(ErrorKind::Unsupported, m) {}
};
// A file that cannot be read or written.
struct KILN_API IoError : Error {
  explicit IoError(const std::string& m) : Error(ErrorKind::Io, m) {}
};
// A bug in kiln.
struct KILN_API InternalError : Error {
  explicit InternalError(const std::string& m) : Error(ErrorKind::Internal, m) {}
};

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
