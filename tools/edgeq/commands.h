// The edgeq CLI's verb registry. Each verb is one thin file (cmd_<verb>.cpp) over one module that
// registers itself with EDGEQ_REGISTER_VERB; main.cpp builds the CLI11 app from the registry.
// Verb callbacks throw edgeq::Error for user errors; main prints one line and exits 1.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace edgeq::cli {

struct Verb {
  const char* name;
  int order;  // position in --help (DESIGN.md's CLI contract order)
  void (*setup)(CLI::App& app);
};

std::vector<Verb>& verb_registry();

struct VerbRegistrar {
  VerbRegistrar(const char* name, int order, void (*setup)(CLI::App&)) {
    verb_registry().push_back({name, order, setup});
  }
};

#define EDGEQ_REGISTER_VERB(name, order, setup) \
  static ::edgeq::cli::VerbRegistrar edgeq_verb_registrar_##setup(name, order, setup)

}  // namespace edgeq::cli
