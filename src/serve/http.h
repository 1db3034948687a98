// The server's HTTP/1.1 layer on Boost.Beast (Debian's libboost 1.74, header-only): keep-alive connections,
// one thread per connection up to a limit, body/header limits and timeouts, graceful stop. Chosen over
// cpp-httplib 0.11 by measurement (bench/serve/http_libs.sh, docs/serving.md): on loopback it answers a
// keep-alive POST in about half the time. The routes live in server.cpp; this layer only moves requests.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgeq::serve::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded, without the query
  std::multimap<std::string, std::string> query;  // percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Header lookup, case-insensitive: the value, or nullptr / "" when absent.
  const std::string* find_header(std::string_view name) const;
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  std::string param(const std::string& name) const;  // first query value, "" when absent
  bool has_param(const std::string& name) const { return query.count(name) > 0; }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  void set_header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  void set_content(std::string b, std::string type) {
    body = std::move(b);
    content_type = std::move(type);
  }
};

// One part of a multipart/form-data body.
struct FormPart {
  std::string name;      // Content-Disposition name
  std::string filename;  // Content-Disposition filename, if any
  std::string content_type;
  std::string content;
};
// Parses a multipart/form-data body (boundary from the Content-Type value). Error(kInvalidArgument) when
// it is malformed.
std::vector<FormPart> parse_multipart(std::string_view content_type, std::string_view body);
// "a=1&b=%20x" -> {a: 1, b: " x"}; '+' is a space.
std::multimap<std::string, std::string> parse_query(std::string_view query);
// %XX decoding; malformed escapes are kept as written.
std::string percent_decode(std::string_view s);

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0 = any free port
  int max_connections = 64;           // more get 503 and are closed
  size_t max_body_bytes = 16u << 20;  // 413 above
  size_t max_header_bytes = 64u << 10;  // 431 above
  int timeout_s = 30;                 // a read (an idle keep-alive connection included) or a write
};

// Called once per request, on the connection's thread. Must fill the response; exceptions become 500.
using Handler = std::function<void(const Request&, Response&)>;
// Called after each response is written, with its status and headers (its body has been sent and moved out).
using Completion = std::function<void(const Request&, const Response&)>;
// For responses the layer makes itself (400 malformed, 413, 431, 503 over the connection limit): the
// body it should carry, e.g. {"error": ...}.
using ErrorBody = std::function<void(int status, const std::string& message, Response&)>;

class Listener {
 public:
  Listener(Options options, Handler handler, Completion completion, ErrorBody error_body);
  ~Listener();
  // Binds and listens; Error(kIo) naming host:port when it cannot. Returns the port.
  int bind();
  // Accepts connections until close(); returns when every connection has ended.
  void run();
  // Stops accepting, wakes idle keep-alive connections so they close; busy ones finish their request
  // (their response says Connection: close). Callable from any thread.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeq::serve::http
