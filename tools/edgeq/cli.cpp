// The driver both programs share: the verb registry, the CLI11 app built from it, error reporting.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << program << ": error: " << e.what() << " (run with --help for usage)\n";
    return 1;
  } catch (const edgeq::Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return e.code() == edgeq::ErrorCode::kInternal ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace edgeq::cli
