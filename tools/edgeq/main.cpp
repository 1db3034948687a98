// edgeq: the command-line tool. Exit codes: 0 success, 1 user error (one line on stderr), 2 bug.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "edgeq/core.h"

namespace edgeq::cli {
std::vector<Verb>& verb_registry() {
  static std::vector<Verb> verbs;
  return verbs;
}
}  // namespace edgeq::cli

int main(int argc, char** argv) {
  CLI::App app{"edgeq: train, quantize, run and benchmark small int8 image classifiers"};
  app.set_version_flag("--version", std::string("edgeq ") + edgeq::version());
  app.require_subcommand(1);
  auto verbs = edgeq::cli::verb_registry();
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
    std::cerr << "edgeq: error: " << e.what() << "\n";
    std::cerr << "Run with --help for usage.\n";
    return 1;
  } catch (const edgeq::Error& e) {
    std::cerr << "edgeq: error: " << e.what() << "\n";
    return e.code() == edgeq::ErrorCode::kInternal ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "edgeq: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
