// The server's pure parts: the v2 codec (JSON and binary tensors in, responses out), version ordering,
// names, and the Prometheus text. Runs under ASan+UBSan too (label sanitize): the codec parses bytes
// from the network.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>

#include "edgeq/serve.h"

namespace edgeq::serve {
namespace {

using json = nlohmann::json;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(V2Codec, ParsesNestedAndFlatJsonOfEveryDatatype) {
  const InferRequest r = parse_infer_request(R"({"id": "q1", "inputs": [
      {"name": "a", "datatype": "FP32", "shape": [2, 2], "data": [[1.5, -2], [3, 4.25]]},
      {"name": "b", "datatype": "INT64", "shape": [3], "data": [-9007199254740993, 0, 9223372036854775807]},
      {"name": "c", "datatype": "UINT8", "shape": [2], "data": [0, 255]},
      {"name": "d", "datatype": "BOOL", "shape": [2], "data": [true, false]},
      {"name": "e", "datatype": "INT8", "shape": [1, 2], "data": [-128, 127]},
      {"name": "f", "datatype": "FP64", "shape": [1], "data": [0.1]}]})",
                                             std::nullopt);
  EXPECT_EQ(r.id, "q1");
  ASSERT_EQ(r.inputs.size(), 6u);
  EXPECT_EQ(r.input_names[1], "b");
  EXPECT_EQ(r.inputs[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(r.inputs[0].data<float>()[1], -2.f);
  EXPECT_EQ(r.inputs[0].data<float>()[3], 4.25f);
  EXPECT_EQ(r.inputs[1].data<int64_t>()[0], -9007199254740993LL);  // exact: no trip through double
  EXPECT_EQ(r.inputs[1].data<int64_t>()[2], INT64_MAX);
  EXPECT_EQ(r.inputs[2].data<uint8_t>()[1], 255);
  EXPECT_EQ(r.inputs[3].dtype(), DType::kBool);
  EXPECT_TRUE(r.inputs[3].data<bool>()[0]);
  EXPECT_FALSE(r.inputs[3].data<bool>()[1]);
  EXPECT_EQ(r.inputs[4].data<int8_t>()[0], -128);
  EXPECT_EQ(r.inputs[5].data<double>()[0], 0.1);
}

TEST(V2Codec, TakesBinaryTensorDataAfterTheJsonHeader) {
  const std::string header = R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "parameters": {"binary_data_size": 12}},
                                             {"name": "y", "datatype": "INT32", "shape": [2], "data": [7, 8]},
                                             {"name": "z", "datatype": "INT16", "shape": [2], "parameters": {"binary_data_size": 4}}],
                                  "outputs": [{"name": "o", "parameters": {"binary_data": true}}]})";
  const float x[3] = {1.f, -0.5f, 3e8f};
  const int16_t z[2] = {-300, 301};
  std::string body = header;
  body.append(reinterpret_cast<const char*>(x), sizeof x);
  body.append(reinterpret_cast<const char*>(z), sizeof z);
  const InferRequest r = parse_infer_request(body, header.size());
  ASSERT_EQ(r.inputs.size(), 3u);
  EXPECT_EQ(std::memcmp(r.inputs[0].raw(), x, sizeof x), 0);
  EXPECT_EQ(r.inputs[1].data<int32_t>()[1], 8);
  EXPECT_EQ(r.inputs[2].data<int16_t>()[0], -300);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].binary, std::optional<bool>(true));

  // The same body cut short, with a byte too many, or without the header length.
  EXPECT_NE(error_of([&] { parse_infer_request(std::string_view(body).substr(0, body.size() - 1), header.size()); }).find("truncated"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_infer_request(body + "!", header.size()); }).find("1 bytes of binary data follow"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_infer_request(header, std::nullopt); }).find("without an Inference-Header-Content-Length"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_infer_request(body, body.size() + 1); }).find("Inference-Header-Content-Length is"), std::string::npos);
}

TEST(V2Codec, RefusesMalformedRequestsNamingTheField) {
  const auto err = [](const std::string& body) { return error_of([&] { parse_infer_request(body, std::nullopt); }); };
  EXPECT_NE(err("{\"inputs\": [").find("not valid JSON"), std::string::npos);
  EXPECT_NE(err("[1]").find("JSON object"), std::string::npos);
  EXPECT_NE(err("{\"inputs\": []}").find("'inputs' must be a non-empty array"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP16", "shape": [1], "data": [1]}]})").find("datatype 'FP16'"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [3], "data": [1, 2]}]})").find("holds 2 values, shape [3] needs 3"),
            std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": [1, 2]}]})").find("more values than the shape's 1"),
            std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [256]}]})").find("out of range"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "INT8", "shape": [1], "data": [-129]}]})").find("out of range"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "INT32", "shape": [1], "data": [1.5]}]})").find("not an integer"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": ["x"]}]})").find("not a number"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "BOOL", "shape": [1], "data": [1]}]})").find("not a boolean"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [-1], "data": [1]}]})").find("not a dim >= 0"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1]}]})").find("'data' is missing"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": [1]},
                               {"name": "a", "datatype": "FP32", "shape": [1], "data": [1]}]})").find("given twice"), std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]})").find("'name' must be a string"), std::string::npos);
  // A shape that would need gigabytes is refused from its element count, before any allocation.
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP64", "shape": [65536, 65536, 65536], "data": [1]}]})").find("too large"),
            std::string::npos);
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP64", "shape": [268435456], "data": [1]}]})").find("holds 1 values"),
            std::string::npos);
  std::string deep(100, '[');
  EXPECT_NE(err(R"({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": )" + deep + "1" + std::string(100, ']') + "}]}")
                .find("nested too deeply"),
            std::string::npos);
}

std::vector<runtime::IoInfo> io(std::initializer_list<runtime::IoInfo> list) { return list; }

TEST(V2Codec, BindsInputsByNameAndChecksThemAgainstTheModel) {
  const auto model_inputs = io({{"x", DType::kF32, {-1, 3}}, {"k", DType::kI64, {1}}});
  const InferRequest r = parse_infer_request(R"({"inputs": [{"name": "k", "datatype": "INT64", "shape": [1], "data": [4]},
                                                            {"name": "x", "datatype": "FP32", "shape": [2, 3], "data": [1,2,3,4,5,6]}]})",
                                             std::nullopt);
  const auto bound = bind_inputs(r, model_inputs);
  ASSERT_EQ(bound.size(), 2u);
  EXPECT_EQ(bound[0].shape(), (Shape{2, 3}));  // the model's order, not the request's
  EXPECT_EQ(bound[1].data<int64_t>()[0], 4);

  const auto bind_err = [&](const std::string& body) {
    return error_of([&] { bind_inputs(parse_infer_request(body, std::nullopt), model_inputs); });
  };
  const std::string k = R"({"name": "k", "datatype": "INT64", "shape": [1], "data": [4]})";
  EXPECT_NE(bind_err(R"({"inputs": [)" + k + "]}").find("input 'x' is missing"), std::string::npos);
  EXPECT_NE(bind_err(R"({"inputs": [)" + k + R"(, {"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1,2,3]}]})")
                .find("datatype FP64, the model takes FP32"),
            std::string::npos);
  EXPECT_NE(bind_err(R"({"inputs": [)" + k + R"(, {"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1,2]}]})")
                .find("shape [1, 2], the model takes [?, 3]"),
            std::string::npos);
  EXPECT_NE(bind_err(R"({"inputs": [)" + k + R"(, {"name": "y", "datatype": "FP32", "shape": [1], "data": [1]}]})")
                .find("no input 'y'"),
            std::string::npos);
}

TEST(V2Codec, EncodesJsonAndBinaryOutputsAsRequested) {
  const auto outs = io({{"logits", DType::kF32, {-1, 2}}, {"ids", DType::kI64, {-1}}});
  const std::vector<Tensor> values = {Tensor::from_f32({1, 2}, std::vector<float>{0.25f, -1.f}),
                                      Tensor::from_i64({1}, std::vector<int64_t>{42})};
  InferRequest req;
  req.id = "r9";
  EncodedResponse r = encode_infer_response("m", "3", req, outs, values);
  EXPECT_FALSE(r.json_length);
  json j = json::parse(r.body);
  EXPECT_EQ(j["model_name"], "m");
  EXPECT_EQ(j["model_version"], "3");
  EXPECT_EQ(j["id"], "r9");
  ASSERT_EQ(j["outputs"].size(), 2u);
  EXPECT_EQ(j["outputs"][0]["name"], "logits");
  EXPECT_EQ(j["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(j["outputs"][0]["shape"], json::array({1, 2}));
  EXPECT_EQ(j["outputs"][0]["data"][1].get<float>(), -1.f);
  EXPECT_EQ(j["outputs"][1]["data"][0], 42);

  // Only 'ids', in binary: the JSON header says how long it is and where the bytes are.
  req.outputs = {{"ids", true}};
  r = encode_infer_response("m", "3", req, outs, values);
  ASSERT_TRUE(r.json_length);
  j = json::parse(r.body.substr(0, *r.json_length));
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 8);
  EXPECT_FALSE(j["outputs"][0].contains("data"));
  ASSERT_EQ(r.body.size(), *r.json_length + 8);
  int64_t id = 0;
  std::memcpy(&id, r.body.data() + *r.json_length, 8);
  EXPECT_EQ(id, 42);

  req.outputs = {{"nope", std::nullopt}};
  EXPECT_NE(error_of([&] { encode_infer_response("m", "3", req, outs, values); }).find("no output 'nope'"), std::string::npos);
}

TEST(Versions, OrderIntegersSemverAndNames) {
  EXPECT_GT(compare_versions("10", "9"), 0);
  EXPECT_GT(compare_versions("2", "1.9.9"), 0);
  EXPECT_EQ(compare_versions("2", "2.0.0"), 0);
  EXPECT_GT(compare_versions("1.2.0", "1.2.0-rc1"), 0);
  EXPECT_LT(compare_versions("1.2.0-rc1", "1.2.0-rc2"), 0);
  EXPECT_GT(compare_versions("v1.10.0", "1.9.0"), 0);
  EXPECT_GT(compare_versions("1", "latest"), 0);  // numbers above names
  EXPECT_LT(compare_versions("alpha", "beta"), 0);
  EXPECT_TRUE(valid_name("resnet-18_v1.2"));
  EXPECT_FALSE(valid_name(".."));
  EXPECT_FALSE(valid_name("a/b"));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(std::string(129, 'a')));
  EXPECT_EQ(dtype_from_v2("BYTES"), DType::kUndefined);
  EXPECT_EQ(dtype_from_v2(v2_datatype(DType::kU16)), DType::kU16);
}

// The value of one sample line ("name{labels} value") in Prometheus text, or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(Metrics, CountsRequestsAndFillsCumulativeHistograms) {
  Metrics m;
  m.set_load_time("cnn", "1", 12.5);
  m.record_inference("cnn", "1", 200, {10, 20, 300, 400});
  m.record_inference("cnn", "1", 200, {10, 20, 3000, 4000});
  m.record_inference("cnn", "1", 400, {});
  m.record_execution("cnn", "1", 1);
  m.record_execution("cnn", "1", 6);
  m.record_http("/v2/models/{name}/infer", 200);
  m.add_in_flight(2);
  const std::string t = m.prometheus_text();
  const std::string l = "{model=\"cnn\",version=\"1\"";
  EXPECT_EQ(sample(t, "edgeq_inference_request_success" + l + "}"), 2);
  EXPECT_EQ(sample(t, "edgeq_inference_request_failure" + l + "}"), 1);
  EXPECT_EQ(sample(t, "edgeq_inference_request_total" + l + ",status=\"400\"}"), 1);
  EXPECT_EQ(sample(t, "edgeq_inference_count" + l + "}"), 7);
  EXPECT_EQ(sample(t, "edgeq_inference_exec_count" + l + "}"), 2);
  EXPECT_EQ(sample(t, "edgeq_inference_compute_duration_us_bucket" + l + ",le=\"250\"}"), 0);
  EXPECT_EQ(sample(t, "edgeq_inference_compute_duration_us_bucket" + l + ",le=\"500\"}"), 1);
  EXPECT_EQ(sample(t, "edgeq_inference_compute_duration_us_bucket" + l + ",le=\"5000\"}"), 2);
  EXPECT_EQ(sample(t, "edgeq_inference_compute_duration_us_bucket" + l + ",le=\"+Inf\"}"), 2);
  EXPECT_EQ(sample(t, "edgeq_inference_request_duration_us_sum" + l + "}"), 4400);
  EXPECT_EQ(sample(t, "edgeq_inference_batch_size_bucket" + l + ",le=\"4\"}"), 1);
  EXPECT_EQ(sample(t, "edgeq_inference_batch_size_bucket" + l + ",le=\"8\"}"), 2);
  EXPECT_EQ(sample(t, "edgeq_model_load_duration_ms" + l + "}"), 12.5);
  EXPECT_EQ(sample(t, "edgeq_inference_pending_request_count"), 2);
  EXPECT_EQ(sample(t, "edgeq_http_requests_total{route=\"/v2/models/{name}/infer\",status=\"200\"}"), 1);
  EXPECT_NE(t.find("# TYPE edgeq_inference_request_duration_us histogram"), std::string::npos);
}

}  // namespace
}  // namespace edgeq::serve

namespace edgeq::serve {
namespace {

// The binary tensor data extension's request example (Triton's docs/protocol/extension_binary_data.md,
// which the KServe v2 protocol points to), replayed byte for byte: two binary inputs, one binary and one
// JSON output requested.
TEST(V2Spec, BinaryExtensionExampleRoundTrips) {
  const std::string header = R"({
  "model_name" : "mymodel",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "parameters" : {
        "binary_data_size" : 16
      }
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "parameters" : {
        "binary_data_size" : 3
      }
    }
  ],
  "outputs" : [
    {
      "name" : "output0",
      "parameters" : {
        "binary_data" : true
      }
    },
    {
      "name" : "output1"
    }
  ]
})";
  const uint32_t input0[4] = {1, 2, 3, 4};
  const uint8_t input1[3] = {1, 0, 1};
  std::string body = header;
  body.append(reinterpret_cast<const char*>(input0), sizeof input0);
  body.append(reinterpret_cast<const char*>(input1), sizeof input1);
  const InferRequest r = parse_infer_request(body, header.size());
  ASSERT_EQ(r.inputs.size(), 2u);
  EXPECT_EQ(r.inputs[0].dtype(), DType::kU32);
  EXPECT_EQ(r.inputs[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(r.inputs[0].data<uint32_t>()[3], 4u);
  EXPECT_EQ(r.inputs[1].dtype(), DType::kBool);
  EXPECT_TRUE(r.inputs[1].data<bool>()[2]);
  EXPECT_FALSE(r.inputs[1].data<bool>()[1]);
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(r.outputs[0].binary, std::optional<bool>(true));
  EXPECT_FALSE(r.outputs[1].binary.has_value());

  // The response the extension's example shows: output0 binary (FP32 [3, 2]) after the JSON, output1 as JSON.
  const std::vector<runtime::IoInfo> outs = {{"output0", DType::kF32, {3, 2}}, {"output1", DType::kF32, {3, 2}}};
  const std::vector<float> values = {1.0f, 1.1f, 2.0f, 2.1f, 3.0f, 3.1f};
  const EncodedResponse e = encode_infer_response("mymodel", "1", r, outs, {Tensor::from_f32({3, 2}, values), Tensor::from_f32({3, 2}, values)});
  ASSERT_TRUE(e.json_length);
  const json j = json::parse(e.body.substr(0, *e.json_length));
  EXPECT_EQ(j["outputs"][0]["name"], "output0");
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 24);
  EXPECT_EQ(j["outputs"][1]["name"], "output1");
  EXPECT_EQ(j["outputs"][1]["data"].size(), 6u);
  EXPECT_EQ(j["outputs"][1]["data"][1].get<float>(), 1.1f);
  ASSERT_EQ(e.body.size(), *e.json_length + 24);
  EXPECT_EQ(std::memcmp(e.body.data() + *e.json_length, values.data(), 24), 0);
}

// The core protocol's JSON example (KServe's v2 "Inference Request Examples"), with its input1 given the
// three values its shape [3] declares: the example as printed holds one value for shape [3], which a
// server must refuse, and this one does, naming the input.
TEST(V2Spec, JsonExampleParsesAndItsMisprintIsRefused) {
  const std::string fixed = R"({
  "id" : "42",
  "inputs" : [
    { "name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ] },
    { "name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true, false, true ] }
  ],
  "outputs" : [ { "name" : "output0" } ]
})";
  const InferRequest r = parse_infer_request(fixed, std::nullopt);
  EXPECT_EQ(r.id, "42");
  EXPECT_EQ(r.inputs[0].data<uint32_t>()[2], 3u);
  EXPECT_EQ(r.inputs[1].numel(), 3);
  std::string printed = fixed;
  printed.replace(printed.find("[ true, false, true ]"), 21, "[ true ]");
  try {
    parse_infer_request(printed, std::nullopt);
    ADD_FAILURE() << "accepted one value for shape [3]";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'input1': 'data' holds 1 values, shape [3] needs 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace edgeq::serve

#include "serve/http.h"

namespace edgeq::serve {
namespace {

// The HTTP layer's own parsers for what arrives from the network: multipart forms (/predict uploads), query
// strings and percent escapes.
TEST(HttpParsers, MultipartFormsAndTheirMalformedKinds) {
  const std::string type = "multipart/form-data; boundary=XyZ";
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
      "\x89PNG\r\n--X not the boundary\r\n"
      "--XyZ--\r\n";
  const auto parts = http::parse_multipart(type, body);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "note");
  EXPECT_EQ(parts[0].content, "hello");
  EXPECT_EQ(parts[1].name, "file");  // not taken from inside filename="..."
  EXPECT_EQ(parts[1].filename, "a.png");
  EXPECT_EQ(parts[1].content_type, "image/png");
  EXPECT_EQ(parts[1].content, "\x89PNG\r\n--X not the boundary");

  EXPECT_NE(error_of([&] { http::parse_multipart("multipart/form-data", body); }).find("no boundary"), std::string::npos);
  EXPECT_NE(error_of([&] { http::parse_multipart(type, "no delimiter here"); }).find("no boundary line"), std::string::npos);
  EXPECT_NE(error_of([&] { http::parse_multipart(type, "--XyZ\r\nContent-Type: x\r\n"); }).find("without a header end"),
            std::string::npos);
  EXPECT_NE(error_of([&] { http::parse_multipart(type, "--XyZ\r\n\r\nbody that never closes"); }).find("not closed"),
            std::string::npos);
  EXPECT_NE(error_of([&] { http::parse_multipart(type, "--XyZjunk"); }).find("not followed by CRLF"), std::string::npos);
  // A part with no header lines is still a part.
  const auto bare = http::parse_multipart(type, "--XyZ\r\n\r\nraw\r\n--XyZ--");
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_EQ(bare[0].content, "raw");
  EXPECT_EQ(bare[0].name, "");
}

TEST(HttpParsers, QueryStringsAndPercentEscapes) {
  const auto q = http::parse_query("model=fash%69on&top=3&flag&x=a+b%2Fc&&top=4");
  EXPECT_EQ(q.find("model")->second, "fashion");
  EXPECT_EQ(q.count("top"), 2u);
  EXPECT_EQ(q.find("top")->second, "3");  // the first one, as Request::param reads it
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("x")->second, "a b/c");
  // Malformed escapes stay as written, including at the very end.
  EXPECT_EQ(http::percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(http::percent_decode("/v2/models/a%20b"), "/v2/models/a b");
  EXPECT_EQ(http::percent_decode("%"), "%");
}

}  // namespace
}  // namespace edgeq::serve
