// Error code names, and text from files made safe to quote in a message.
#include <cstdio>

#include "edgeq/core.h"

namespace edgeq {

std::string printable(std::string_view text, size_t max_len) {
  std::string out;
  const size_t shown = text.size() > max_len ? max_len : text.size();
  out.reserve(shown + 8);
  for (size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out.push_back(static_cast<char>(byte));
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    }
  }
  if (shown < text.size()) out += "\u2026";
  return out;
}

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kParse: return "parse error";
    case ErrorCode::kInvalidModel: return "invalid model";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kInternal: return "internal error";
  }
  return "error";
}

const char* version() { return EDGEQ_VERSION_STRING; }

}  // namespace edgeq
