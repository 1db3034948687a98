// Open Inference Protocol v2 codec: infer request JSON (+ binary tensor data extension) -> Tensors, and
// outputs -> infer response. Everything from the client is checked before it sizes an allocation.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "edgeq/serve.h"
#include "json_values.h"

namespace edgeq::serve {
namespace {

using json = nlohmann::ordered_json;

struct DatatypeName {
  DType dtype;
  const char* name;
};
// v2's datatypes that are numeric in edgeq's Tensor (BYTES has no fixed size; FP16/BF16 need a conversion
// no runtime input uses).
constexpr DatatypeName kDatatypes[] = {
    {DType::kBool, "BOOL"},   {DType::kU8, "UINT8"},   {DType::kU16, "UINT16"}, {DType::kU32, "UINT32"},
    {DType::kU64, "UINT64"},  {DType::kI8, "INT8"},    {DType::kI16, "INT16"},  {DType::kI32, "INT32"},
    {DType::kI64, "INT64"},   {DType::kF32, "FP32"},   {DType::kF64, "FP64"},
};

[[noreturn]] void bad(const std::string& message) { throw Error(ErrorCode::kInvalidArgument, message); }

// Built by insert/push_back: `"'" + printable(...) + "'"` trips GCC 12's -Wrestrict false positive.
std::string quote_name(std::string_view s) {
  std::string out = printable(s, 64);
  out.insert(out.begin(), '\'');
  out.push_back('\'');
  return out;
}

// Largest tensor a request may declare: the body limit bounds the bytes actually sent, this bounds what a
// shape alone could make us allocate before counting them.
constexpr int64_t kMaxRequestElements = int64_t{1} << 28;

Shape parse_shape(const json& j, const std::string& where) {
  if (!j.is_array()) bad(where + ": 'shape' must be an array of integers");
  if (j.size() > 16) bad(where + ": 'shape' has " + std::to_string(j.size()) + " dims (at most 16)");
  Shape shape;
  for (const auto& d : j) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) bad(where + ": 'shape' holds " + d.dump() + ", not a dim >= 0");
    shape.push_back(d.get<int64_t>());
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > kMaxRequestElements / d) bad(where + ": shape " + shape_str(shape) + " is too large");
    n *= d;
  }
  return shape;
}

template <typename T>
void fill_from_json(Tensor& t, const std::vector<const json*>& values, const std::string& where) {
  T* dst = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) {
    const json& v = *values[i];
    const auto fail = [&](const char* what) {
      bad(where + ": data[" + std::to_string(i) + "] = " + v.dump().substr(0, 40) + " is " + what);
    };
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) fail("not a boolean");
      dst[i] = v.get<bool>();
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) fail("not a number");
      const double x = v.get<double>();
      if (std::isfinite(x) && std::fabs(x) > static_cast<double>(std::numeric_limits<T>::max())) fail("out of range");
      dst[i] = static_cast<T>(x);
    } else {
      if (v.is_number_unsigned()) {
        const auto x = v.get<uint64_t>();
        if (x > static_cast<uint64_t>(std::numeric_limits<T>::max())) fail("out of range");
        dst[i] = static_cast<T>(x);
      } else if (v.is_number_integer()) {
        const auto x = v.get<int64_t>();
        if constexpr (std::is_unsigned_v<T>) {
          if (x < 0) fail("out of range");
          if (static_cast<uint64_t>(x) > static_cast<uint64_t>(std::numeric_limits<T>::max())) fail("out of range");
        } else {
          if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) || x > static_cast<int64_t>(std::numeric_limits<T>::max()))
            fail("out of range");
        }
        dst[i] = static_cast<T>(x);
      } else {
        fail("not an integer");
      }
    }
  }
}

void fill_tensor(Tensor& t, const std::vector<const json*>& values, const std::string& where) {
  switch (t.dtype()) {
    case DType::kBool: return fill_from_json<bool>(t, values, where);
    case DType::kU8: return fill_from_json<uint8_t>(t, values, where);
    case DType::kU16: return fill_from_json<uint16_t>(t, values, where);
    case DType::kU32: return fill_from_json<uint32_t>(t, values, where);
    case DType::kU64: return fill_from_json<uint64_t>(t, values, where);
    case DType::kI8: return fill_from_json<int8_t>(t, values, where);
    case DType::kI16: return fill_from_json<int16_t>(t, values, where);
    case DType::kI32: return fill_from_json<int32_t>(t, values, where);
    case DType::kI64: return fill_from_json<int64_t>(t, values, where);
    case DType::kF32: return fill_from_json<float>(t, values, where);
    case DType::kF64: return fill_from_json<double>(t, values, where);
    default: bad(where + ": datatype " + dtype_name(t.dtype()) + " cannot be sent as JSON");
  }
}

template <typename T>
json values_to_json(const Tensor& t) {
  const T* p = t.data<T>();
  json arr = json::array();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      // JSON has no NaN or infinity: v2 servers differ; null keeps the document valid and the position.
      if (!std::isfinite(p[i])) {
        arr.push_back(nullptr);
        continue;
      }
    }
    arr.push_back(p[i]);
  }
  return arr;
}

json tensor_to_json(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kBool: return values_to_json<bool>(t);
    case DType::kU8: return values_to_json<uint8_t>(t);
    case DType::kU16: return values_to_json<uint16_t>(t);
    case DType::kU32: return values_to_json<uint32_t>(t);
    case DType::kU64: return values_to_json<uint64_t>(t);
    case DType::kI8: return values_to_json<int8_t>(t);
    case DType::kI16: return values_to_json<int16_t>(t);
    case DType::kI32: return values_to_json<int32_t>(t);
    case DType::kI64: return values_to_json<int64_t>(t);
    case DType::kF32: return values_to_json<float>(t);
    case DType::kF64: return values_to_json<double>(t);
    default: throw Error(ErrorCode::kUnsupported, std::string("output datatype ") + dtype_name(t.dtype()) + " has no v2 name");
  }
}

// parameters.<key> as a bool, if present (Triton also accepts it as a number 0/1 in some clients: no).
std::optional<bool> bool_parameter(const json& owner, const char* key, const std::string& where) {
  if (!owner.contains("parameters")) return std::nullopt;
  const json& p = owner["parameters"];
  if (!p.is_object()) bad(where + ": 'parameters' must be an object");
  if (!p.contains(key)) return std::nullopt;
  if (!p[key].is_boolean()) bad(where + ": parameters." + key + " must be true or false");
  return p[key].get<bool>();
}

void flatten_leaves(const json& j, std::vector<const json*>& out, size_t limit, int depth, const std::string& field,
                    const std::string& overflow) {
  if (depth > 17) bad(field + " is nested too deeply");
  if (!j.is_array()) {
    if (out.size() >= limit) bad(overflow);
    out.push_back(&j);
    return;
  }
  for (const auto& e : j) flatten_leaves(e, out, limit, depth + 1, field, overflow);
}

}  // namespace

void flatten_json(const json& j, std::vector<const json*>& out, size_t limit, const std::string& field,
                  const std::string& overflow) {
  flatten_leaves(j, out, limit, 0, field, overflow);
}

const char* v2_datatype(DType dtype) {
  for (const auto& d : kDatatypes)
    if (d.dtype == dtype) return d.name;
  return "";
}

DType dtype_from_v2(std::string_view name) {
  for (const auto& d : kDatatypes)
    if (name == d.name) return d.dtype;
  return DType::kUndefined;
}

InferRequest parse_infer_request(std::string_view body, std::optional<size_t> json_length) {
  if (json_length && *json_length > body.size())
    bad("Inference-Header-Content-Length is " + std::to_string(*json_length) + " but the body has " +
        std::to_string(body.size()) + " bytes");
  const std::string_view header = json_length ? body.substr(0, *json_length) : body;
  std::string_view binary = json_length ? body.substr(*json_length) : std::string_view{};
  const json j = json::parse(header.begin(), header.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) bad("request body is not valid JSON");
  if (!j.is_object()) bad("request body must be a JSON object");
  InferRequest req;
  if (j.contains("id")) {
    if (!j["id"].is_string()) bad("'id' must be a string");
    req.id = j["id"].get<std::string>();
  }
  req.binary_outputs = bool_parameter(j, "binary_data_output", "request").value_or(false);
  if (!j.contains("inputs") || !j["inputs"].is_array() || j["inputs"].empty()) bad("'inputs' must be a non-empty array");
  for (const auto& in : j["inputs"]) {
    const std::string where = "input " + std::to_string(req.inputs.size());
    if (!in.is_object()) bad(where + ": must be an object");
    if (!in.contains("name") || !in["name"].is_string()) bad(where + ": 'name' must be a string");
    const std::string name = in["name"].get<std::string>();
    const std::string at = "input " + quote_name(name);
    for (const auto& seen : req.input_names)
      if (seen == name) bad(at + " is given twice");
    if (!in.contains("datatype") || !in["datatype"].is_string()) bad(at + ": 'datatype' must be a string");
    const std::string dt_name = in["datatype"].get<std::string>();
    const DType dt = dtype_from_v2(dt_name);
    if (dt == DType::kUndefined) bad(at + ": datatype " + quote_name(dt_name) + " is not one edgeq accepts (BOOL, UINT8..UINT64, INT8..INT64, FP32, FP64)");
    if (!in.contains("shape")) bad(at + ": 'shape' is missing");
    const Shape shape = parse_shape(in["shape"], at);
    // Sizes are checked against what was sent before the tensor is allocated.
    const int64_t numel = shape_numel(shape);
    const size_t nbytes = static_cast<size_t>(numel) * dtype_size(dt);
    Tensor t;
    std::optional<size_t> binary_size;
    if (in.contains("parameters") && in["parameters"].is_object() && in["parameters"].contains("binary_data_size")) {
      const json& s = in["parameters"]["binary_data_size"];
      if (!s.is_number_unsigned()) bad(at + ": parameters.binary_data_size must be an integer >= 0");
      binary_size = s.get<uint64_t>();
    } else if (in.contains("parameters") && !in["parameters"].is_object()) {
      bad(at + ": 'parameters' must be an object");
    }
    if (binary_size) {
      if (!json_length) bad(at + ": binary_data_size given without an Inference-Header-Content-Length header");
      if (in.contains("data")) bad(at + ": has both 'data' and binary_data_size");
      if (*binary_size != nbytes)
        bad(at + ": binary_data_size is " + std::to_string(*binary_size) + " bytes, shape " + shape_str(shape) + " of " +
            dt_name + " needs " + std::to_string(nbytes));
      if (*binary_size > binary.size())
        bad(at + ": binary data is truncated (" + std::to_string(binary.size()) + " bytes left, " +
            std::to_string(*binary_size) + " needed)");
      t = Tensor(dt, shape);
      if (t.nbytes() > 0) std::memcpy(t.raw(), binary.data(), t.nbytes());
      if (dt == DType::kBool)
        for (int64_t i = 0; i < t.numel(); ++i)
          if (t.data<uint8_t>()[i] > 1) bad(at + ": BOOL byte " + std::to_string(i) + " is not 0 or 1");
      binary.remove_prefix(*binary_size);
    } else {
      if (!in.contains("data")) bad(at + ": 'data' is missing");
      std::vector<const json*> values;
      flatten_json(in["data"], values, static_cast<size_t>(numel), at + ": 'data'",
                   at + ": 'data' holds more values than the shape's " + std::to_string(numel));
      if (static_cast<int64_t>(values.size()) != numel)
        bad(at + ": 'data' holds " + std::to_string(values.size()) + " values, shape " + shape_str(shape) + " needs " +
            std::to_string(numel));
      t = Tensor(dt, shape);
      fill_tensor(t, values, at);
    }
    req.input_names.push_back(name);
    req.inputs.push_back(std::move(t));
  }
  if (!binary.empty()) bad(std::to_string(binary.size()) + " bytes of binary data follow the inputs that no input claims");
  if (j.contains("outputs")) {
    if (!j["outputs"].is_array()) bad("'outputs' must be an array");
    for (const auto& out : j["outputs"]) {
      if (!out.is_object() || !out.contains("name") || !out["name"].is_string()) bad("each of 'outputs' needs a string 'name'");
      RequestedOutput ro;
      ro.name = out["name"].get<std::string>();
      ro.binary = bool_parameter(out, "binary_data", "output " + quote_name(ro.name));
      req.outputs.push_back(std::move(ro));
    }
  }
  return req;
}

std::vector<Tensor> bind_inputs(const InferRequest& request, const std::vector<runtime::IoInfo>& model_inputs) {
  for (const auto& name : request.input_names) {
    bool known = false;
    for (const auto& io : model_inputs) known = known || io.name == name;
    if (!known) bad("the model has no input " + quote_name(name));
  }
  std::vector<Tensor> bound;
  for (const auto& io : model_inputs) {
    size_t k = 0;
    while (k < request.input_names.size() && request.input_names[k] != io.name) ++k;
    if (k == request.input_names.size()) bad("input " + quote_name(io.name) + " is missing");
    const Tensor& t = request.inputs[k];
    const std::string at = "input " + quote_name(io.name);
    if (t.dtype() != io.dtype)
      bad(at + ": datatype " + v2_datatype(t.dtype()) + ", the model takes " +
          (*v2_datatype(io.dtype) ? v2_datatype(io.dtype) : dtype_name(io.dtype)));
    bool fits = t.shape().size() == io.shape.size();
    for (size_t d = 0; fits && d < io.shape.size(); ++d) fits = io.shape[d] < 0 || io.shape[d] == t.shape()[d];
    if (!fits) bad(at + ": shape " + shape_str(t.shape()) + ", the model takes " + shape_str(io.shape));
    bound.push_back(t);
  }
  return bound;
}

EncodedResponse encode_infer_response(const std::string& model, const std::string& version, const InferRequest& request,
                                      const std::vector<runtime::IoInfo>& output_info, const std::vector<Tensor>& outputs) {
  struct Chosen {
    size_t index;
    bool binary;
  };
  std::vector<Chosen> chosen;
  if (request.outputs.empty()) {
    for (size_t i = 0; i < outputs.size(); ++i) chosen.push_back({i, request.binary_outputs});
  } else {
    for (const auto& ro : request.outputs) {
      size_t i = 0;
      while (i < output_info.size() && output_info[i].name != ro.name) ++i;
      if (i >= outputs.size()) bad("the model has no output " + quote_name(ro.name));
      chosen.push_back({i, ro.binary.value_or(request.binary_outputs)});
    }
  }
  json j = {{"model_name", model}, {"model_version", version}};
  if (!request.id.empty()) j["id"] = request.id;
  j["outputs"] = json::array();
  std::string binary;
  bool any_binary = false;
  for (const auto& c : chosen) {
    const Tensor& t = outputs[c.index];
    const char* dt = v2_datatype(t.dtype());
    if (!*dt) throw Error(ErrorCode::kUnsupported, "output '" + output_info[c.index].name + "' has datatype " + dtype_name(t.dtype()) + ", which v2 cannot carry");
    json o = {{"name", output_info[c.index].name}, {"datatype", dt}, {"shape", t.shape()}};
    if (c.binary) {
      any_binary = true;
      o["parameters"] = {{"binary_data_size", t.nbytes()}};
      binary.append(static_cast<const char*>(t.raw()), t.nbytes());
    } else {
      o["data"] = tensor_to_json(t);
    }
    j["outputs"].push_back(std::move(o));
  }
  EncodedResponse r;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (any_binary) {
    r.json_length = r.body.size();
    r.body += binary;
  }
  return r;
}

}  // namespace edgeq::serve
