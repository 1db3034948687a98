// http_libs: the two Debian-packaged HTTP server libraries issue 20 weighs for `edgeq serve`, each serving a
// fixed 64-byte JSON body on loopback the way the server would use it (HTTP/1.1 keep-alive, one thread per
// connection), so that wrk measures the library's own per-request cost. bench/serve/http_libs.sh drives it.
//   http_libs httplib PORT     cpp-httplib 0.11 (libcpp-httplib-dev): httplib::Server, catch-all route
//   http_libs beast PORT       Boost.Beast 1.74 (libboost-dev): synchronous, a thread per connection
#include <httplib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace {

const std::string kBody = R"({"model_name":"m","model_version":"1","outputs":[{"data":[1.5]}]})";

int run_httplib(int port) {
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(128); };
  // As edgeq serve sets it: httplib writes headers and body separately (Nagle would add 40 ms), and closes a
  // keep-alive connection after 5 requests by default.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100000);
  server.Post(".*", [](const httplib::Request&, httplib::Response& res) { res.set_content(kBody, "application/json"); });
  server.Get(".*", [](const httplib::Request&, httplib::Response& res) { res.set_content(kBody, "application/json"); });
  return server.listen("127.0.0.1", port) ? 0 : 1;
}

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

void beast_session(tcp::socket socket) {
  beast::error_code ec;
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) break;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = kBody;
    res.prepare_payload();
    http::write(socket, res, ec);
    if (ec || !res.keep_alive()) break;
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

int run_beast(int port) {
  boost::asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc, {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}};
  for (;;) {
    tcp::socket socket{ioc};
    acceptor.accept(socket);
    socket.set_option(tcp::no_delay(true));
    std::thread(beast_session, std::move(socket)).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: http_libs httplib|beast PORT\n");
    return 1;
  }
  const int port = std::atoi(argv[2]);
  if (std::strcmp(argv[1], "httplib") == 0) return run_httplib(port);
  if (std::strcmp(argv[1], "beast") == 0) return run_beast(port);
  std::fprintf(stderr, "http_libs: unknown library '%s'\n", argv[1]);
  return 1;
}
