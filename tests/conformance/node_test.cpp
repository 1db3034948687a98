// The ONNX backend node test sweep (Debian's libonnx-testdata, /usr/share/libonnx-testdata/data/node)
// on the runtime, at the ONNX backend runner's fp32 tolerances (rtol 1e-3, atol 1e-7).
// Every test directory is sorted into a category from its model (operators, value types): training,
// sequence, string, optional and random operators are out of scope; every other ("inference") test
// must pass or be listed with its reason in tests/conformance/known_gaps.txt. The sweep fails when
//   - an inference test neither passes nor is listed (a new gap cannot hide),
//   - a listed test passes (the list only shrinks),
//   - a test computes wrong numbers, unless its listed reason starts with "deviation:" (a deliberate,
//     documented difference from the ONNX reference).
// It prints "passed X of Y inference node tests (Z %)". EDGEQ_CONFORMANCE_VERBOSE=1 lists every test
// that does not pass and a histogram of the reasons; EDGEQ_CONFORMANCE_GAPS=FILE writes the gap lines
// of every failing inference test (a starting point for known_gaps.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "edgeq/onnx.h"
#include "edgeq/runtime.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kNodeTestDir = "/usr/share/libonnx-testdata/data/node";

// test name -> reason
std::map<std::string, std::string> read_known_gaps() {
  std::map<std::string, std::string> r;
  std::ifstream in(std::string(EDGEQ_SOURCE_DIR) + "/tests/conformance/known_gaps.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name, reason;
    ls >> name;
    std::getline(ls, reason);
    reason.erase(0, reason.find_first_not_of(" \t"));
    if (!name.empty()) r[name] = reason;
  }
  return r;
}

enum class Category { kInference, kTraining, kSequence, kString, kOptional, kRandom };

const char* category_name(Category c) {
  switch (c) {
    case Category::kInference: return "inference";
    case Category::kTraining: return "training";
    case Category::kSequence: return "sequence";
    case Category::kString: return "string";
    case Category::kOptional: return "optional";
    case Category::kRandom: return "random";
  }
  return "?";
}

bool is_random_op(const std::string& op) {
  static const std::set<std::string> kOps = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                             "RandomUniformLike", "Multinomial", "Bernoulli"};
  return kOps.count(op) != 0;
}

bool is_sequence_op(const std::string& op) {
  return op.rfind("Sequence", 0) == 0 || op == "SplitToSequence" || op == "ConcatFromSequence";
}

bool is_string_op(const std::string& op) {
  return op.rfind("String", 0) == 0 || op.rfind("Regex", 0) == 0;
}

// Training: the training domain's operators, the loss functions (only training graphs compute a
// loss; their "_expanded" tests, the same loss in plain operators, stay inference tests), and inference
// operators run in training mode (BatchNormalization's training_mode attribute, Dropout given a
// training_mode input).
bool is_training_node(const edgeq::onnx::Node& n) {
  if (n.domain == "ai.onnx.preview.training") return true;
  if (n.op_type == "NegativeLogLikelihoodLoss" || n.op_type == "SoftmaxCrossEntropyLoss") return true;
  if (n.op_type == "BatchNormalization" && n.attr_int("training_mode", 0) != 0) return true;
  return n.op_type == "Dropout" && n.inputs.size() >= 3 && !n.inputs[2].empty();
}

Category categorize(const edgeq::onnx::Model& model) {
  using edgeq::onnx::ValueKind;
  const auto& g = model.graph;
  std::set<Category> found;
  for (const auto& n : g.nodes) {
    if (is_training_node(n)) found.insert(Category::kTraining);
    if (is_sequence_op(n.op_type)) found.insert(Category::kSequence);
    if (n.op_type.rfind("Optional", 0) == 0) found.insert(Category::kOptional);
    if (is_string_op(n.op_type)) found.insert(Category::kString);
    if (is_random_op(n.op_type)) found.insert(Category::kRandom);
  }
  auto value = [&](const edgeq::onnx::ValueInfo& v) {
    switch (edgeq::onnx::value_kind(v)) {
      case ValueKind::kSequence: found.insert(Category::kSequence); break;
      case ValueKind::kOptional: found.insert(Category::kOptional); break;
      default: break;
    }
    if (v.dtype == edgeq::DType::kString) found.insert(Category::kString);
  };
  for (const auto& v : g.inputs) value(v);
  for (const auto& v : g.outputs) value(v);
  for (const auto& [name, t] : g.initializers)
    if (t.dtype() == edgeq::DType::kString) found.insert(Category::kString);
  // The first in this order names a test of several (a training graph over sequences is training).
  for (Category c : {Category::kTraining, Category::kSequence, Category::kOptional, Category::kString, Category::kRandom})
    if (found.count(c)) return c;
  return Category::kInference;
}

struct Outcome {
  std::string name;
  Category category = Category::kInference;
  enum class Status { kPassed, kWrong, kUnsupported } status = Status::kPassed;
  std::string reason;  // why it did not pass: the first unsupported node, or the mismatch
  std::set<std::string> ops;
};

// The runtime's "<path>: 1 unsupported node: Op: reason" shortened to "Op: reason".
std::string short_reason(const std::string& message) {
  const std::string marker = "unsupported node";
  const size_t at = message.find(marker);
  if (at == std::string::npos) return message;
  const size_t colon = message.find(": ", at);
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

Outcome run_one(const fs::path& dir, const std::set<std::string>& supported, const edgeq::runtime::VerifyOptions& opt) {
  Outcome o;
  o.name = dir.filename().string();
  std::set<std::string> missing;
  try {
    edgeq::onnx::ReadOptions ro;
    ro.allow_unknown_domains = true;
    const auto model = edgeq::onnx::read_model((dir / "model.onnx").string(), ro);
    o.category = categorize(model);
    for (const auto& n : model.graph.nodes) {
      const std::string op = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
      o.ops.insert(op);
      if (!n.domain.empty() || !supported.count(n.op_type)) missing.insert(op);
    }
  } catch (const edgeq::Error& e) {
    o.status = Outcome::Status::kUnsupported;
    o.reason = std::string("model not loaded: ") + e.what();
    return o;
  }
  if (!missing.empty()) {
    o.status = Outcome::Status::kUnsupported;
    for (const auto& m : missing) o.reason += (o.reason.empty() ? "operator " : ", ") + m;
    o.reason += " not implemented";
    return o;
  }
  const auto r = edgeq::runtime::verify_test_dir(dir.string(), opt);
  if (r.status == edgeq::runtime::VerifyResult::Status::kPassed) return o;
  if (r.status == edgeq::runtime::VerifyResult::Status::kUnsupported) {
    o.status = Outcome::Status::kUnsupported;
    o.reason = short_reason(r.message);
    return o;
  }
  o.status = Outcome::Status::kWrong;
  o.reason = r.message;
  for (const auto& out : r.outputs)
    if (!out.ok) o.reason += "; " + out.data_set + "/" + out.name + " max abs " + std::to_string(out.max_abs_error) + " " + out.problem;
  return o;
}

struct Sweep {
  std::vector<Outcome> outcomes;
  std::set<std::string> ops_passed;  // operators appearing in at least one passing test
  size_t inference = 0, inference_passed = 0;
  std::set<std::string> passed;
};

Sweep run_all(int threads, bool channels_last) {
  const auto supported_list = edgeq::runtime::supported_ops();
  const std::set<std::string> supported(supported_list.begin(), supported_list.end());
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeTestDir))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  edgeq::runtime::VerifyOptions opt;
  opt.threads = threads;
  opt.channels_last = channels_last;
  Sweep s;
  for (const auto& dir : dirs) {
    Outcome o = run_one(dir, supported, opt);
    const bool pass = o.status == Outcome::Status::kPassed;
    if (pass) {
      s.ops_passed.insert(o.ops.begin(), o.ops.end());
      s.passed.insert(o.name);
    }
    if (o.category == Category::kInference) {
      ++s.inference;
      if (pass) ++s.inference_passed;
    }
    s.outcomes.push_back(std::move(o));
  }
  return s;
}

// The reason's first clause ("Resize: mode 'cubic'", "operator LSTM not implemented"): the histogram key.
std::string reason_key(const std::string& reason) {
  const size_t cut = reason.find(" (");
  return cut == std::string::npos ? reason : reason.substr(0, cut);
}

bool is_deviation(const std::string& reason) { return reason.rfind("deviation:", 0) == 0; }

void report(const Sweep& s, const char* config, const std::map<std::string, std::string>& gaps) {
  std::map<Category, size_t> per_category;
  for (const auto& o : s.outcomes) ++per_category[o.category];
  const double pct = s.inference ? 100.0 * static_cast<double>(s.inference_passed) / static_cast<double>(s.inference) : 0.0;
  std::cout << "[" << config << "] passed " << s.inference_passed << " of " << s.inference << " inference node tests ("
            << std::fixed << std::setprecision(1) << pct << " %); " << s.outcomes.size() << " tests in all, excluded:";
  for (const auto& [c, n] : per_category)
    if (c != Category::kInference) std::cout << " " << category_name(c) << " " << n;
  std::cout << "\n";
  for (const auto& o : s.outcomes) {
    if (o.status != Outcome::Status::kWrong) continue;
    const auto gap = gaps.find(o.name);
    const bool deviation = gap != gaps.end() && is_deviation(gap->second);
    std::cout << (deviation ? "  documented deviation " : "  WRONG ") << o.name << ": " << o.reason << "\n";
  }
  if (!std::getenv("EDGEQ_CONFORMANCE_VERBOSE")) return;
  std::map<std::string, std::vector<std::string>> histogram;
  for (const auto& o : s.outcomes) {
    if (o.category != Category::kInference || o.status == Outcome::Status::kPassed) continue;
    std::cout << "  not passing " << o.name << ": " << o.reason << "\n";
    histogram[reason_key(o.reason)].push_back(o.name);
  }
  std::vector<std::pair<size_t, std::string>> rows;
  for (const auto& [k, v] : histogram) rows.emplace_back(v.size(), k);
  std::sort(rows.rbegin(), rows.rend());
  std::cout << "  reasons the inference tests that do not pass give, by count:\n";
  for (const auto& [n, k] : rows) std::cout << "  " << std::setw(5) << n << "  " << k << "\n";
}

// Listed reasons are kept (a written reason says more than the runtime's message); new gaps get the
// message.
void write_gaps(const Sweep& s, const std::map<std::string, std::string>& gaps, const std::string& path) {
  std::ofstream out(path);
  for (const auto& o : s.outcomes) {
    if (o.category != Category::kInference || o.status == Outcome::Status::kPassed) continue;
    const auto gap = gaps.find(o.name);
    out << o.name << "  " << (gap != gaps.end() ? gap->second : o.reason) << "\n";
  }
}

TEST(ConformanceNode, InferenceSweep) {
  if (!fs::exists(kNodeTestDir)) GTEST_SKIP() << kNodeTestDir << " missing: install Debian's libonnx-testdata";
  const Sweep s = run_all(1, true);
  const auto gaps = read_known_gaps();
  report(s, "1 thread, channels-last", gaps);
  if (const char* path = std::getenv("EDGEQ_CONFORMANCE_GAPS")) write_gaps(s, gaps, path);
  std::set<std::string> seen;
  for (const auto& o : s.outcomes) {
    seen.insert(o.name);
    const auto gap = gaps.find(o.name);
    const bool listed = gap != gaps.end();
    if (o.status == Outcome::Status::kPassed) {
      EXPECT_FALSE(listed) << o.name << " passes now: remove it from tests/conformance/known_gaps.txt";
    } else if (o.status == Outcome::Status::kWrong) {
      EXPECT_TRUE(listed && is_deviation(gap->second)) << o.name << " computes wrong numbers: " << o.reason;
    } else if (o.category == Category::kInference) {
      EXPECT_TRUE(listed) << o.name << " does not pass and is not in tests/conformance/known_gaps.txt: " << o.reason;
    } else {
      EXPECT_FALSE(listed) << o.name << " is a " << category_name(o.category) << " test, outside the sweep: unlist it";
    }
  }
  for (const auto& [name, reason] : gaps) EXPECT_TRUE(seen.count(name)) << name << " in known_gaps.txt is no node test";
  // A floor so that a runtime that silently reports everything unsupported cannot pass.
  EXPECT_GE(s.inference_passed, 250u);
  // Every operator in the table (ops.inc) is exercised by at least one passing node test.
  for (const auto& op : edgeq::runtime::supported_ops())
    EXPECT_TRUE(s.ops_passed.count(op)) << op << " is in the runtime's table but no ONNX node test of it passed";
}

// Same tests through the plain-layout paths and with two threads (other kernels, other splits): the
// same ones pass. (wasm32 without threads: the pool is the caller alone, core/thread_pool.cpp, so there
// this checks the plain-layout paths on one thread.)
TEST(ConformanceNode, PlainLayoutTwoThreads) {
  if (!fs::exists(kNodeTestDir)) GTEST_SKIP() << kNodeTestDir << " missing: install Debian's libonnx-testdata";
  const Sweep s = run_all(2, false);
  const auto gaps = read_known_gaps();
  report(s, "2 threads, plain layout", gaps);
  const Sweep reference = run_all(1, true);
  for (const auto& o : s.outcomes) {
    const auto gap = gaps.find(o.name);
    if (o.status == Outcome::Status::kWrong && !(gap != gaps.end() && is_deviation(gap->second)))
      ADD_FAILURE() << o.name << " computes wrong numbers: " << o.reason;
    if (reference.passed.count(o.name) && o.status != Outcome::Status::kPassed)
      ADD_FAILURE() << o.name << " passes channels-last on 1 thread but not in plain layout on 2: " << o.reason;
  }
  EXPECT_GE(s.inference_passed, 250u);
}

}  // namespace
