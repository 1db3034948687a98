// The driver both programs share: the verb registry, the CLI11 app built from it, error reporting.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include "commands.h"
#include "edgeq/core.h"

namespace edgeq::cli {

std::vector<Verb>& verb_registry() {
  static std::vector<Verb> verbs;
  return verbs;
}

std::string self_executable() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot find this program's executable (/proc/self/exe): " + ec.message());
  return p.string();
}

std::string sibling_executable(const std::string& name) {
  const std::string path = (std::filesystem::path(self_executable()).parent_path() / name).string();
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

namespace {

// Messages from libraries (the ONNX checker, CLI11) can span lines: an error is one line, and a
// control byte that slipped into one (an escape sequence from a file) is shown as \xNN. UTF-8 text
// and what printable() already escaped pass unchanged.
std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool gap = false;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += out.back() == ':' || out.back() == '.' || out.back() == ';' ? " " : "; ";
    gap = false;
    if (byte < 0x20 || byte == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

// The text of a flag's value as a user typed it, safe for one line.
std::string shown_value(const std::string& text) { return "'" + printable(text, 40) + "'"; }

std::optional<long long> parse_whole(const std::string& text) {
  if (text.empty()) return std::nullopt;
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used, 10);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;  // not a number, or out of long long's range
  }
}

std::string range_text(long long min, long long max) {
  if (max == kNoUpperBound) return ">= " + std::to_string(min);
  return "from " + std::to_string(min) + " to " + std::to_string(max);
}

}  // namespace

CLI::Validator whole_number(long long min, long long max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const auto v = parse_whole(text);
        if (!v || *v < min || *v > max) return "must be a whole number " + range_text(min, max) + ", not " + shown_value(text);
        return "";
      },
      "INT " + range_text(min, max));
}

void add_input_shape_option(CLI::App* cmd, std::map<std::string, Shape>* shapes) {
  auto parse = [](const std::string& text, std::string* name, Shape* dims) -> std::string {
    const auto eq = text.rfind('=');
    const std::string rule = "must be NAME=DIMS with whole dims >= 1 (images=1x3x224x224), not " + shown_value(text);
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) return rule;
    *name = text.substr(0, eq);
    dims->clear();
    std::string part;
    std::istringstream in(text.substr(eq + 1));
    while (std::getline(in, part, text.find('x', eq) != std::string::npos ? 'x' : ',')) {
      const auto v = parse_whole(part);
      if (!v || *v < 1 || *v > (1LL << 31)) return rule;
      dims->push_back(*v);
    }
    return dims->empty() || text.back() == 'x' || text.back() == ',' ? rule : "";
  };
  cmd->add_option_function<std::vector<std::string>>(
         "--input-shape",
         [shapes, parse](const std::vector<std::string>& items) {
           for (const auto& item : items) {
             std::string name;
             Shape dims;
             parse(item, &name, &dims);
             if (!shapes->emplace(name, dims).second)
               throw CLI::ValidationError("--input-shape", "names input '" + printable(name, 40) + "' twice");
           }
         },
         "Shape to compile for an input the model leaves open: NAME=DIMS (images=1x3x224x224), repeatable")
      ->check(CLI::Validator(
          [parse](std::string& text) {
            std::string name;
            Shape dims;
            return parse(text, &name, &dims);
          },
          "NAME=DIMS"));
}

CLI::Validator real_number(double min, double max) {
  auto show = [](double x) {
    std::ostringstream os;
    os << x;
    return os.str();
  };
  const std::string rule = "a number from " + show(min) + " to " + show(max);
  return CLI::Validator(
      [min, max, rule](std::string& text) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "must be " + rule + ", not " + shown_value(text);
        } catch (const std::exception&) {
          return "must be " + rule + ", not " + shown_value(text);
        }
        if (!std::isfinite(v) || v < min || v > max) return "must be " + rule + ", not " + shown_value(text);
        return "";
      },
      "NUMBER in [" + show(min) + ", " + show(max) + "]");
}

CLI::Validator input_file() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        const std::string problem = regular_file_problem(path);
        return problem.empty() ? "" : printable(path, 200) + ": " + problem;
      },
      "FILE");
}

CLI::Validator input_directory() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec)) return "";
        return printable(path, 200) + (std::filesystem::exists(path, ec) ? ": is not a directory" : ": no such directory");
      },
      "DIR");
}

int clamp_threads(int requested, const std::string& flag) {
  const int allowed = allowed_threads();
  if (requested <= allowed) return requested;
  std::cerr << "edgeq: note: " << flag << " " << requested << " is more than the " << allowed
            << " CPU(s) this process may use; using " << allowed << "\n";
  return allowed;
}

CLI::Validator thread_count(int min_threads) {
  return CLI::Validator(
      [min_threads](std::string& text) -> std::string {
        const auto v = parse_whole(text);
        if (!v || *v < min_threads)
          return "must be a whole number " + range_text(min_threads, kNoUpperBound) + ", not " + shown_value(text);
        if (*v > allowed_threads()) text = std::to_string(clamp_threads(static_cast<int>(std::min<long long>(*v, INT32_MAX)), "--threads"));
        return "";
      },
      "INT >= " + std::to_string(min_threads));
}

void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  namespace fs = std::filesystem;
  auto spelled = [](const std::string& p) {
    std::error_code ec;
    const fs::path w = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? fs::path(p).lexically_normal() : w;
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& out = outputs[i];
    if (out.path.empty()) continue;
    for (const auto& in : inputs)
      if (!in.path.empty() && (same_file(in.path, out.path) || spelled(in.path) == spelled(out.path)))
        throw Error(ErrorCode::kInvalidArgument, out.flag + " " + printable(out.path, 200) + " is the " + in.flag +
                                                     " input; edgeq does not write over its inputs (choose another path)");
    for (size_t j = 0; j < i; ++j)
      if (!outputs[j].path.empty() && spelled(outputs[j].path) == spelled(out.path))
        throw Error(ErrorCode::kInvalidArgument, out.flag + " " + printable(out.path, 200) + " is also " + outputs[j].flag);
  }
}

std::string dataset_file(const std::string& spec) {
  const std::string prefix = "sign-mnist:";
  return spec.rfind(prefix, 0) == 0 ? spec.substr(prefix.size()) : "";
}

int run_cli(int argc, char** argv, const char* description) {
  // Errors name the program as invoked, so `edgeq train` (exec'd into edgeq-torch with edgeq's argv[0])
  // still says "edgeq: error: ...".
  const std::string program = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "edgeq";
  CLI::App app{description};
  app.set_version_flag("--version", program + " " + edgeq::version());
  app.require_subcommand(1);
  auto verbs = verb_registry();
  std::sort(verbs.begin(), verbs.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& v : verbs) v.setup(app);
  auto fail = [&](const std::string& message) {
    std::cerr << program << ": error: " << one_line(message) << "\n";
    return 1;
  };
  // CLI11 would say "A subcommand is required" for a misspelt verb without naming it.
  const auto subcommands = app.get_subcommands({});
  const bool known = argc > 1 && std::any_of(subcommands.begin(), subcommands.end(), [&](const CLI::App* sub) { return sub->check_name(argv[1]); });
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::string names;
    for (const auto* sub : subcommands)
      if (!sub->get_group().empty()) names += (names.empty() ? "" : ", ") + sub->get_name();
    return fail("unknown verb '" + printable(argv[1], 40) + "' (verbs: " + names + "; run with --help for usage)");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (run with --help for usage)");
  } catch (const edgeq::Error& e) {
    if (e.code() == edgeq::ErrorCode::kInternal) {
      std::cerr << program << ": internal error: " << one_line(e.what()) << "\n";
      return 2;
    }
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory (a tensor or buffer larger than this machine or this process's limit allows)");
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << one_line(e.what()) << "\n";
    return 2;
  }
  return 0;
}

}  // namespace edgeq::cli
