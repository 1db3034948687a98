// Runs one ONNX backend-test directory on the runtime and compares with its expected outputs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "edgeq/runtime.h"

namespace edgeq::runtime {

namespace fs = std::filesystem;

namespace {

double element_as_double(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF32: return t.data<float>()[i];
    case DType::kF64: return t.data<double>()[i];
    case DType::kF16: return f16_to_f32(t.data<uint16_t>()[i]);
    case DType::kBF16: return bf16_to_f32(t.data<uint16_t>()[i]);
    case DType::kI8: return t.data<int8_t>()[i];
    case DType::kU8: return t.data<uint8_t>()[i];
    case DType::kBool: return t.data<uint8_t>()[i];
    case DType::kI16: return t.data<int16_t>()[i];
    case DType::kU16: return t.data<uint16_t>()[i];
    case DType::kI32: return t.data<int32_t>()[i];
    case DType::kU32: return t.data<uint32_t>()[i];
    case DType::kI64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kU64: return static_cast<double>(t.data<uint64_t>()[i]);
    default: throw Error(ErrorCode::kUnsupported, std::string("cannot compare dtype ") + dtype_name(t.dtype()));
  }
}

VerifyOutput compare(const Tensor& got, const Tensor& want, const VerifyOptions& opt) {
  VerifyOutput r;
  if (got.dtype() != want.dtype()) {
    r.ok = false;
    r.problem = std::string("dtype ") + dtype_name(got.dtype()) + ", expected " + dtype_name(want.dtype());
    return r;
  }
  if (got.shape() != want.shape()) {
    r.ok = false;
    r.problem = "shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape());
    return r;
  }
  const bool is_float = want.dtype() == DType::kF32 || want.dtype() == DType::kF64 || want.dtype() == DType::kF16 ||
                        want.dtype() == DType::kBF16;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = element_as_double(got, i), w = element_as_double(want, i);
    if (std::isnan(g) || std::isnan(w)) {
      if (std::isnan(g) != std::isnan(w)) r.ok = false;
      continue;
    }
    if (std::isinf(w) || std::isinf(g)) {
      if (g != w) r.ok = false;
      continue;
    }
    const double d = std::fabs(g - w);
    r.max_abs_error = std::max(r.max_abs_error, d);
    if (w != 0) r.max_rel_error = std::max(r.max_rel_error, d / std::fabs(w));
    if (is_float ? d > opt.atol + opt.rtol * std::fabs(w) : d != 0) r.ok = false;
  }
  return r;
}

// PREFIX0.pb, PREFIX1.pb, ... in DIR, in order. The backend-test layout numbers them from 0 without
// gaps; any other PREFIX*.pb name, or a gap, is an Error naming the file.
std::vector<std::string> sorted_pb(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<size_t, std::string>> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || e.path().extension() != ".pb") continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - 3);
    const bool numeric = !digits.empty() && digits.size() <= 6 &&
                         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric)
      throw Error(ErrorCode::kInvalidArgument, printable(e.path().string(), 200) + ": expected " + prefix + "<number>.pb");
    files.emplace_back(std::stoul(digits), e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> r;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].first != i)
      throw Error(ErrorCode::kInvalidArgument, dir.string() + ": " + prefix + std::to_string(i) + ".pb is missing (found " +
                                                   fs::path(files[i].second).filename().string() + ")");
    r.push_back(files[i].second);
  }
  return r;
}

// ONNX before 1.13 wrote bfloat16 test tensors as uint16 bits (numpy has no bfloat16): read those as
// the bfloat16 the model declares.
Tensor as_declared(Tensor t, DType declared) {
  if (t.dtype() != DType::kU16 || declared != DType::kBF16) return t;
  Tensor r(DType::kBF16, t.shape());
  if (t.nbytes() > 0) std::memcpy(r.raw(), t.raw(), t.nbytes());
  return r;
}

}  // namespace

VerifyResult verify_test_dir(const std::string& dir, const VerifyOptions& options) {
  VerifyResult result;
  result.dir = dir;
  try {
    const fs::path root(dir);
    if (!fs::exists(root / "model.onnx")) throw Error(ErrorCode::kNotFound, dir + ": no model.onnx");
    onnx::Model model = onnx::read_model((root / "model.onnx").string());
    SessionOptions so;
    so.threads = options.threads;
    so.channels_last = options.channels_last;
    Session session(std::move(model), so);
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) throw Error(ErrorCode::kNotFound, dir + ": no test_data_set_* directory");
    for (const auto& set : sets) {
      std::vector<Tensor> inputs, expected;
      for (const auto& f : sorted_pb(set, "input_")) {
        Tensor t = onnx::parse_tensor_proto(read_file(f), f);
        const size_t i = inputs.size();
        inputs.push_back(i < session.inputs().size() ? as_declared(std::move(t), session.inputs()[i].dtype) : std::move(t));
      }
      for (const auto& f : sorted_pb(set, "output_")) {
        Tensor t = onnx::parse_tensor_proto(read_file(f), f);
        const size_t i = expected.size();
        expected.push_back(i < session.outputs().size() ? as_declared(std::move(t), session.outputs()[i].dtype) : std::move(t));
      }
      // Nothing to compare is not a pass.
      if (expected.empty()) throw Error(ErrorCode::kInvalidArgument, set.string() + ": no output_<n>.pb to compare against");
      if (inputs.size() != session.inputs().size())
        throw Error(ErrorCode::kInvalidModel, set.string() + ": " + std::to_string(inputs.size()) + " input files for " +
                                                  std::to_string(session.inputs().size()) + " model inputs");
      const auto got = session.run(inputs);
      if (expected.size() > got.size())
        throw Error(ErrorCode::kInvalidModel, set.string() + ": more expected outputs than the model has");
      for (size_t i = 0; i < expected.size(); ++i) {
        VerifyOutput o = compare(got[i], expected[i], options);
        o.data_set = set.filename().string();
        o.name = session.outputs()[i].name;
        if (!o.ok) result.status = VerifyResult::Status::kFailed;
        result.outputs.push_back(std::move(o));
      }
    }
    if (result.status == VerifyResult::Status::kFailed) result.message = "outputs differ beyond tolerance";
  } catch (const Error& e) {
    result.status = e.code() == ErrorCode::kUnsupported ? VerifyResult::Status::kUnsupported : VerifyResult::Status::kFailed;
    result.message = e.what();
  } catch (const fs::filesystem_error& e) {
    result.status = VerifyResult::Status::kFailed;
    result.message = printable(e.path1().string(), 200) + ": " + e.code().message();
  } catch (const std::bad_alloc&) {
    result.status = VerifyResult::Status::kFailed;
    result.message = dir + ": out of memory";
  } catch (const std::exception& e) {
    result.status = VerifyResult::Status::kFailed;
    result.message = std::string("unexpected error: ") + e.what();
  }
  return result;
}

}  // namespace edgeq::runtime
