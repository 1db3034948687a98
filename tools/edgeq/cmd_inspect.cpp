// edgeq inspect MODEL.onnx [--json] [--plan] [--profile N] [--input-shape NAME=DIMS]: opset, producer, I/O, op
// histogram, params, MACs, quantized?, metadata; with --plan the edgeq runtime's compiled plan (every kernel
// call, e.g. whether a QDQ group became an int8 kernel), with --profile each step's mean time.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeq/onnx.h"
#include "edgeq/runtime.h"

namespace edgeq::cli {
namespace {

nlohmann::ordered_json shape_json(const onnx::ValueInfo& v) {
  if (!v.has_shape) return nullptr;
  nlohmann::ordered_json dims = nlohmann::ordered_json::array();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    if (v.shape[i] >= 0) dims.push_back(v.shape[i]);
    else if (i < v.dim_params.size() && !v.dim_params[i].empty()) dims.push_back(v.dim_params[i]);
    else dims.push_back(nullptr);
  }
  return dims;
}

std::string shape_text(const onnx::ValueInfo& v) {
  if (!v.has_shape) return "?";
  std::string s = "[";
  for (size_t i = 0; i < v.shape.size(); ++i) {
    if (i) s += ", ";
    if (v.shape[i] >= 0) s += std::to_string(v.shape[i]);
    else s += (i < v.dim_params.size() && !v.dim_params[i].empty()) ? v.dim_params[i] : "?";
  }
  return s + "]";
}

nlohmann::ordered_json to_json(const onnx::ModelSummary& s) {
  nlohmann::ordered_json j;
  j["path"] = s.path;
  j["file_bytes"] = s.file_bytes;
  j["ir_version"] = s.ir_version;
  j["opsets"] = s.opsets;
  j["producer"] = s.producer;
  auto io = [](const std::vector<onnx::ValueInfo>& vs) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const auto& v : vs) a.push_back({{"name", v.name}, {"dtype", dtype_name(v.dtype)}, {"shape", shape_json(v)}});
    return a;
  };
  j["inputs"] = io(s.inputs);
  j["outputs"] = io(s.outputs);
  j["node_count"] = s.node_count;
  j["op_histogram"] = s.op_histogram;
  nlohmann::ordered_json by_dtype = nlohmann::ordered_json::object();
  for (const auto& [dt, n] : s.param_count_by_dtype) by_dtype[dt] = {{"count", n}, {"bytes", s.param_bytes_by_dtype.at(dt)}};
  j["params"] = {{"count", s.param_count}, {"by_dtype", by_dtype}};
  nlohmann::ordered_json per_node = nlohmann::ordered_json::array();
  for (const auto& c : s.costs) per_node.push_back({{"node", c.node}, {"op", c.op_type}, {"macs", c.macs}});
  j["macs"] = {{"total", s.total_macs}, {"per_node", per_node}};
  j["quantized"] = s.quantized;
  j["quant_formats"] = s.quant_formats;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [k, v] : s.metadata) meta[k] = v;
  j["metadata"] = meta;
  return j;
}

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2f G", static_cast<double>(n) / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2f M", static_cast<double>(n) / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1f K", static_cast<double>(n) / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

void print_text(const onnx::ModelSummary& s) {
  std::cout << "model:     " << s.path << " (" << s.file_bytes << " bytes)\n";
  std::cout << "producer:  " << (s.producer.empty() ? "(unknown)" : printable(s.producer)) << ", IR version " << s.ir_version << "\n";
  std::cout << "opsets:   ";
  for (const auto& [d, v] : s.opsets) std::cout << " " << printable(d) << " " << v;
  std::cout << "\n";
  // Names and metadata come from the file: escaped, so a model cannot drive the terminal.
  for (const auto& v : s.inputs) std::cout << "input:     " << printable(v.name) << " " << dtype_name(v.dtype) << " " << printable(shape_text(v), 200) << "\n";
  for (const auto& v : s.outputs) std::cout << "output:    " << printable(v.name) << " " << dtype_name(v.dtype) << " " << printable(shape_text(v), 200) << "\n";
  std::cout << "quantized: " << (s.quantized ? "yes" : "no");
  for (const auto& f : s.quant_formats) std::cout << " " << f;
  std::cout << "\nparams:    " << s.param_count << " (" << human_count(s.param_count) << ")";
  for (const auto& [dt, n] : s.param_count_by_dtype) std::cout << "  " << dt << ": " << n << " = " << s.param_bytes_by_dtype.at(dt) << " B";
  std::cout << "\nMACs:      " << s.total_macs << " (" << human_count(s.total_macs) << ") per inference (symbolic dims taken as 1)\n";
  for (const auto& c : s.costs)
    std::cout << "  " << printable(c.op_type) << (c.node.empty() ? "" : " " + printable(c.node)) << ": " << c.macs << "\n";
  std::cout << "operators: " << s.node_count << " nodes\n";
  for (const auto& [op, n] : s.op_histogram) std::cout << "  " << printable(op) << ": " << n << "\n";
  if (!s.metadata.empty()) {
    std::cout << "metadata:\n";
    for (const auto& [k, v] : s.metadata) std::cout << "  " << printable(k) << ": " << printable(v, 400) << "\n";
  }
}

// The plan for the --input-shape dims (open dims otherwise taken as 1) and, when runs > 0, per-step
// times on uniform [0, 1) inputs.
nlohmann::ordered_json plan_json(const std::string& path, int runs, const std::map<std::string, Shape>& input_shapes) {
  runtime::SessionOptions so;
  so.input_shapes = input_shapes;
  const runtime::Session session = runtime::load_session(path, so);
  const std::vector<Shape> shapes = session.default_input_shapes();
  const runtime::PlanInfo info = session.plan_info(shapes);
  nlohmann::ordered_json j = {{"steps", info.steps}, {"arena_bytes", info.arena_bytes}, {"constant_bytes", info.constant_bytes}};
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  if (runs > 0) {
    // Only a profile runs the model, so only it allocates inputs; plan_info above has already refused
    // any input shape over its 1 GiB bound (the shapes come from the file), so these fit.
    std::vector<Tensor> inputs;
    for (size_t k = 0; k < shapes.size(); ++k) {
      const auto& in = session.inputs()[k];
      Tensor t(in.dtype, shapes[k]);
      if (in.dtype == DType::kF32)
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>((i * 7919) % 1000) / 1000.f;
      else
        std::memset(t.raw(), 0, t.nbytes());
      inputs.push_back(std::move(t));
    }
    for (const auto& st : session.profile(inputs, runs)) steps.push_back({{"label", st.label}, {"mean_us", st.mean_us}});
  } else {
    for (const auto& l : info.step_labels) steps.push_back({{"label", l}});
  }
  nlohmann::ordered_json compiled = nlohmann::ordered_json::object();
  for (size_t k = 0; k < shapes.size(); ++k) compiled[session.inputs()[k].name] = shapes[k];
  j["input_shapes"] = compiled;
  j["step_list"] = steps;
  return j;
}

void print_plan(const nlohmann::ordered_json& p) {
  std::string for_shapes;
  for (const auto& [name, dims] : p["input_shapes"].items())
    for_shapes += (for_shapes.empty() ? "" : ", ") + printable(name, 60) + " " + shape_str(dims.get<Shape>());
  std::cout << "plan (" << for_shapes << "): " << p["steps"].get<size_t>() << " steps, arena " << p["arena_bytes"].get<size_t>()
            << " B, constants " << p["constant_bytes"].get<size_t>() << " B\n";
  double total = 0;
  for (const auto& s : p["step_list"])
    if (s.contains("mean_us")) total += s["mean_us"].get<double>();
  for (const auto& s : p["step_list"]) {
    if (s.contains("mean_us")) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%9.2f us %5.1f %%  ", s["mean_us"].get<double>(), total > 0 ? 100.0 * s["mean_us"].get<double>() / total : 0.0);
      std::cout << "  " << buf << printable(s["label"].get<std::string>(), 400) << "\n";
    } else {
      std::cout << "  " << printable(s["label"].get<std::string>(), 400) << "\n";
    }
  }
  if (total > 0) std::cout << "  total " << total << " us per run (steps timed one by one)\n";
}

void setup_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a model's opset, I/O, operators, parameters, MACs and metadata");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto plan = std::make_shared<bool>(false);
  auto profile_runs = std::make_shared<int>(0);
  auto input_shapes = std::make_shared<std::map<std::string, Shape>>();
  cmd->add_option("model", *path, "ONNX model file")->required();
  cmd->add_flag("--json", *json, "Print one JSON object");
  cmd->add_flag("--plan", *plan, "Also show the edgeq runtime's compiled plan (one line per kernel call) for the --input-shape dims, open dims as 1");
  cmd->add_option("--profile", *profile_runs, "With --plan: time each step over N runs (mean microseconds)")
      ->check(whole_number(0));
  add_input_shape_option(cmd, input_shapes.get());
  cmd->callback([path, json, plan, profile_runs, input_shapes] {
    onnx::Model model = onnx::load_model(*path);
    std::error_code ec;
    auto bytes = std::filesystem::file_size(*path, ec);
    auto summary = onnx::summarize(model, ec ? 0 : static_cast<int64_t>(bytes));
    nlohmann::ordered_json p;
    if (*plan || *profile_runs > 0) p = plan_json(*path, *profile_runs, *input_shapes);
    if (*json) {
      nlohmann::ordered_json j = to_json(summary);
      if (!p.is_null()) j["plan"] = p;
      std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    } else {
      print_text(summary);
      if (!p.is_null()) print_plan(p);
    }
  });
}

}  // namespace

EDGEQ_REGISTER_VERB("inspect", 10, setup_inspect);

}  // namespace edgeq::cli
