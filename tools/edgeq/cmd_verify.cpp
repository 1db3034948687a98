// edgeq verify DIR... [--rtol --atol --threads --json]: runs ONNX backend-test directories
// (model.onnx + test_data_set_N/{input,output}_K.pb) on the runtime and prints the max error per
// output. Exit 1 when any output differs beyond tolerance or a directory cannot run.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeq/runtime.h"

namespace edgeq::cli {
namespace {

const char* status_name(runtime::VerifyResult::Status s) {
  switch (s) {
    case runtime::VerifyResult::Status::kPassed: return "passed";
    case runtime::VerifyResult::Status::kFailed: return "FAILED";
    case runtime::VerifyResult::Status::kUnsupported: return "unsupported";
  }
  return "?";
}

void setup_verify(CLI::App& app) {
  auto* cmd = app.add_subcommand("verify", "Run ONNX backend-test directories and compare with their expected outputs");
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto opt = std::make_shared<runtime::VerifyOptions>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("dirs", *dirs, "Test directories (model.onnx + test_data_set_*/)")->required()->check(input_directory());
  cmd->add_option("--rtol", opt->rtol, "Relative tolerance")->capture_default_str()->check(real_number(0.0, 1e9));
  cmd->add_option("--atol", opt->atol, "Absolute tolerance")->capture_default_str()->check(real_number(0.0, 1e9));
  cmd->add_option("--threads", opt->threads, "Intra-op threads")->capture_default_str()->transform(thread_count(1));
  cmd->add_flag("--json", *json, "Print one JSON object");
  cmd->callback([dirs, opt, json] {
    size_t failed = 0, unsupported = 0;
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& dir : *dirs) {
      const auto r = runtime::verify_test_dir(dir, *opt);
      if (r.status == runtime::VerifyResult::Status::kFailed) ++failed;
      if (r.status == runtime::VerifyResult::Status::kUnsupported) ++unsupported;
      if (*json) {
        nlohmann::ordered_json j{{"dir", r.dir}, {"status", status_name(r.status)}, {"message", r.message}};
        j["outputs"] = nlohmann::ordered_json::array();
        for (const auto& o : r.outputs)
          j["outputs"].push_back({{"data_set", o.data_set}, {"name", o.name}, {"max_abs_error", o.max_abs_error},
                                  {"max_rel_error", o.max_rel_error}, {"ok", o.ok}, {"problem", o.problem}});
        all.push_back(j);
        continue;
      }
      std::cout << status_name(r.status) << "  " << r.dir << "\n";
      for (const auto& o : r.outputs) {
        char line[256];
        std::snprintf(line, sizeof line, "    %-18s %-20s max abs %.3g  max rel %.3g%s", o.data_set.c_str(), o.name.c_str(),
                      o.max_abs_error, o.max_rel_error, o.ok ? "" : "  <-- beyond tolerance");
        std::cout << line << (o.problem.empty() ? "" : "  (" + o.problem + ")") << "\n";
      }
      if (!r.message.empty() && r.status != runtime::VerifyResult::Status::kPassed) std::cout << "    " << r.message << "\n";
    }
    if (*json)
      std::cout << nlohmann::ordered_json{{"rtol", opt->rtol}, {"atol", opt->atol}, {"results", all}}.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    else
      std::cout << dirs->size() - failed - unsupported << " passed, " << failed << " failed, " << unsupported << " unsupported\n";
    if (failed + unsupported > 0)
      throw Error(ErrorCode::kInvalidArgument, std::to_string(failed) + " failed and " + std::to_string(unsupported) +
                                                   " unsupported of " + std::to_string(dirs->size()) + " test director" +
                                                   (dirs->size() == 1 ? "y" : "ies"));
  });
}

}  // namespace

EDGEQ_REGISTER_VERB("verify", 60, setup_verify);

}  // namespace edgeq::cli
