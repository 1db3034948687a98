// HTTP/1.1 on Boost.Beast's parser and serializer over plain POSIX sockets. Beast's synchronous read/write
// run on FdStream, a blocking socket with SO_RCVTIMEO/SO_SNDTIMEO (Asio's own synchronous sockets wait in
// poll() without a timeout when recv() times out, so they cannot bound an idle or slow client).
#include "http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "edgeq/core.h"

namespace edgeq::serve::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// errno after a failed recv/send: SO_RCVTIMEO/SO_SNDTIMEO expiring shows as EAGAIN.
beast::error_code socket_error() {
  return (errno == EAGAIN || errno == EWOULDBLOCK) ? beast::error_code(asio::error::timed_out)
                                                   : beast::error_code(errno, beast::system_category());
}

// Beast's throwing overloads over the error_code ones.
template <typename Op>
size_t or_throw(Op&& op) {
  beast::error_code ec;
  const size_t n = op(ec);
  if (ec) throw beast::system_error(ec);
  return n;
}

// A connected socket as Beast's SyncReadStream / SyncWriteStream.
class FdStream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  template <typename Buffers>
  size_t read_some(const Buffers& buffers, beast::error_code& ec) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      const asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      for (;;) {
        const ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
        if (n > 0) {
          ec = {};
          return static_cast<size_t>(n);
        }
        if (n == 0) {
          ec = bhttp::error::end_of_stream;
          return 0;
        }
        if (errno == EINTR) continue;
        ec = socket_error();
        return 0;
      }
    }
    ec = {};
    return 0;
  }
  template <typename Buffers>
  size_t read_some(const Buffers& buffers) {
    return or_throw([&](beast::error_code& ec) { return read_some(buffers, ec); });
  }
  template <typename Buffers>
  size_t write_some(const Buffers& buffers, beast::error_code& ec) {
    iovec iov[16];
    int count = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers) && count < 16; ++it) {
      const asio::const_buffer b = *it;
      if (b.size() == 0) continue;
      iov[count].iov_base = const_cast<void*>(b.data());
      iov[count].iov_len = b.size();
      ++count;
    }
    if (count == 0) {
      ec = {};
      return 0;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    for (;;) {
      const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n >= 0) {
        ec = {};
        return static_cast<size_t>(n);
      }
      if (errno == EINTR) continue;
      ec = socket_error();
      return 0;
    }
  }
  template <typename Buffers>
  size_t write_some(const Buffers& buffers) {
    return or_throw([&](beast::error_code& ec) { return write_some(buffers, ec); });
  }

 private:
  int fd_;
};

// Sends r; its body moves into the message (a response can be megabytes of binary tensors), so r.body is
// empty afterwards.
void write_response(FdStream& stream, Response& r, unsigned version, bool keep_alive, bool head, beast::error_code& ec) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  if (head) {
    res.content_length(r.body.size());
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  bhttp::write(stream, res, ec);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string* Request::find_header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return &v;
  return nullptr;
}

std::string Request::header(std::string_view name) const {
  const std::string* v = find_header(name);
  return v ? *v : "";
}

bool Request::has_header(std::string_view name) const { return find_header(name) != nullptr; }

std::string Request::param(const std::string& name) const {
  const auto it = query.find(name);
  return it == query.end() ? "" : it->second;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::multimap<std::string, std::string> parse_query(std::string_view query) {
  std::multimap<std::string, std::string> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string item(query.substr(start, end - start));
    for (char& c : item)
      if (c == '+') c = ' ';
    if (!item.empty()) {
      const size_t eq = item.find('=');
      if (eq == std::string::npos) {
        out.emplace(percent_decode(item), "");
      } else {
        out.emplace(percent_decode(std::string_view(item).substr(0, eq)), percent_decode(std::string_view(item).substr(eq + 1)));
      }
    }
    start = end + 1;
  }
  return out;
}

std::vector<FormPart> parse_multipart(std::string_view content_type, std::string_view body) {
  const auto bad = [](const std::string& what) { throw Error(ErrorCode::kInvalidArgument, "multipart body: " + what); };
  const size_t b = content_type.find("boundary=");
  if (b == std::string_view::npos) bad("Content-Type has no boundary");
  std::string_view boundary = content_type.substr(b + 9);
  if (const size_t semi = boundary.find(';'); semi != std::string_view::npos) boundary = boundary.substr(0, semi);
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') boundary = boundary.substr(1, boundary.size() - 2);
  if (boundary.empty() || boundary.size() > 200) bad("bad boundary");
  const std::string delim = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) bad("no boundary line");
  for (;;) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") break;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") bad("boundary line not followed by CRLF");
    pos += 2;
    // From the boundary line's own CRLF: a part may have no header lines at all ("--b\r\n\r\ncontent").
    const size_t head_end = body.find("\r\n\r\n", pos - 2);
    if (head_end == std::string_view::npos) bad("part without a header end");
    const std::string_view head = head_end > pos ? body.substr(pos, head_end - pos) : std::string_view{};
    const size_t next = body.find("\r\n" + delim, head_end + 4);
    if (next == std::string_view::npos) bad("part not closed by the boundary");
    FormPart part;
    part.content = std::string(body.substr(head_end + 4, next - head_end - 4));
    size_t line_start = 0;
    while (line_start < head.size()) {
      size_t line_end = head.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = head.size();
      const std::string_view line = head.substr(line_start, line_end - line_start);
      const size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        const std::string_view key = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (iequals(key, "Content-Type")) part.content_type = std::string(value);
        if (iequals(key, "Content-Disposition")) {
          const auto field = [&](std::string_view name) -> std::string {
            const std::string key_eq = std::string(name) + "=\"";
            size_t at = value.find(key_eq);
            // "name=" must not match inside "filename=".
            while (at != std::string_view::npos && at > 0 && value[at - 1] != ' ' && value[at - 1] != ';') at = value.find(key_eq, at + 1);
            if (at == std::string_view::npos) return "";
            const size_t start = at + key_eq.size();
            const size_t end = value.find('"', start);
            return end == std::string_view::npos ? "" : std::string(value.substr(start, end - start));
          };
          part.name = field("name");
          part.filename = field("filename");
        }
      }
      line_start = line_end + 2;
    }
    parts.push_back(std::move(part));
    pos = next + 2;
  }
  return parts;
}

struct Listener::Impl {
  Options options;
  Handler handler;
  Completion completion;
  ErrorBody error_body;
  int listen_fd = -1;
  int port = 0;
  std::atomic<bool> closing{false};
  std::mutex mu;
  std::condition_variable cv;
  std::set<int> open_fds;  // connections alive, for close() to wake
  int active = 0;

  void reply_error(FdStream& stream, int status, const std::string& message, unsigned version) {
    Response r;
    r.status = status;
    error_body(status, message, r);
    beast::error_code ec;
    write_response(stream, r, version, /*keep_alive=*/false, /*head=*/false, ec);
    if (completion) {
      Request q;
      q.method = "?";
      completion(q, r);
    }
  }

  void serve_connection(int fd) {
    FdStream stream(fd);
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      beast::error_code ec;
      bhttp::read_header(stream, buffer, parser, ec);
      if (!ec && !parser.is_done()) {
        const auto& h = parser.get();
        if (iequals(std::string(h[bhttp::field::expect]), "100-continue")) {
          static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
          beast::error_code wec;
          stream.write_some(asio::const_buffer(kContinue, sizeof kContinue - 1), wec);
        }
        bhttp::read(stream, buffer, parser, ec);
      }
      if (ec == bhttp::error::end_of_stream || ec == asio::error::timed_out || ec == asio::error::connection_reset ||
          (ec && ec.category() == beast::system_category())) {
        break;  // the client went away, or stayed idle past the timeout
      }
      if (ec == bhttp::error::body_limit) {
        reply_error(stream, 413, "request body is larger than --max-body", 11);
        break;
      }
      if (ec == bhttp::error::header_limit) {
        reply_error(stream, 431, "request headers are too large", 11);
        break;
      }
      if (ec) {
        reply_error(stream, 400, "malformed HTTP request (" + ec.message() + ")", 11);
        break;
      }
      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      const std::string_view target(msg.target().data(), msg.target().size());
      const size_t q = target.find('?');
      req.path = percent_decode(target.substr(0, q));
      if (q != std::string_view::npos) req.query = parse_query(target.substr(q + 1));
      for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      req.body = std::move(msg.body());
      Response res;
      try {
        handler(req, res);
      } catch (const std::exception& e) {
        res = Response{};
        error_body(500, std::string("internal error: ") + e.what(), res);
        res.status = 500;
      }
      const bool keep_alive = msg.keep_alive() && !closing;
      write_response(stream, res, msg.version(), keep_alive, req.method == "HEAD", ec);
      if (completion) completion(req, res);
      if (ec || !keep_alive) break;
    }
  }

  void start_connection(int fd) {
    bool admitted = false;
    {
      std::lock_guard lock(mu);
      admitted = active < options.max_connections;
      if (admitted) {
        ++active;
        open_fds.insert(fd);
      }
    }
    if (!admitted) {
      // Over the limit: one 503 and close, without reading (the client may retry elsewhere).
      FdStream stream(fd);
      reply_error(stream, 503, "too many connections (--max-connections " + std::to_string(options.max_connections) + ")", 11);
      ::close(fd);
      return;
    }
    std::thread([this, fd] {
      serve_connection(fd);
      std::lock_guard lock(mu);
      open_fds.erase(fd);
      ::close(fd);
      --active;
      cv.notify_all();
    }).detach();
  }
};

Listener::Listener(Options options, Handler handler, Completion completion, ErrorBody error_body) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->completion = std::move(completion);
  impl_->error_body = std::move(error_body);
}

Listener::~Listener() {
  close();
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->active == 0; });
  lock.unlock();
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
}

int Listener::bind() {
  const auto& o = impl_->options;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string where = o.host + ":" + std::to_string(o.port);
  if (::getaddrinfo(o.host.c_str(), std::to_string(o.port).c_str(), &hints, &found) != 0 || !found)
    throw Error(ErrorCode::kIo, "cannot listen on " + where + ": not an address of this host");
  std::string problem;
  for (addrinfo* a = found; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) {
      impl_->listen_fd = fd;
      break;
    }
    problem = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (impl_->listen_fd < 0) throw Error(ErrorCode::kIo, "cannot listen on " + where + ": " + (problem.empty() ? "no usable address" : problem));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                           : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return impl_->port;
}

void Listener::run() {
  const auto& o = impl_->options;
  while (!impl_->closing) {
    pollfd p{impl_->listen_fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);  // wakes to see close()
    if (ready <= 0) continue;
    const int fd = ::accept4(impl_->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{o.timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    impl_->start_connection(fd);
  }
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->active == 0; });
}

void Listener::close() {
  impl_->closing = true;
  std::lock_guard lock(impl_->mu);
  // Stop reads on every connection: an idle one sees end of stream and ends; a busy one still writes its
  // response (marked Connection: close), then ends.
  for (int fd : impl_->open_fds) ::shutdown(fd, SHUT_RD);
}

}  // namespace edgeq::serve::http
