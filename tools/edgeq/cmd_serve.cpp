// edgeq serve (--model-repository DIR | --model NAME=PATH... | --static DIR) [--host --port --threads --max-batch ...]:
// the inference server (src/serve, docs/serving.md), and with --static the browser app's files at /.
// SIGTERM/SIGINT: in-flight requests finish, new ones get 503, exit 0.
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeq/serve.h"

namespace edgeq::cli {
namespace {

// Started at static initialization: "ready_ms" counts from (nearly) process start.
const Timer g_process_timer;

struct ServeArgs {
  std::string repository;
  std::vector<std::string> models;  // NAME=PATH
  serve::ServerOptions server;
  int threads = 1;
};

void run_serve(ServeArgs a) {
  if (a.repository.empty() && a.models.empty() && a.server.static_dir.empty())
    throw Error(ErrorCode::kInvalidArgument, "give --model-repository DIR, --model NAME=PATH or --static DIR");
  // Signals go to one waiting thread (blocked here, before any thread starts, so every thread inherits it).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  serve::RepositoryOptions ro;
  ro.threads = a.threads;
  serve::ModelRepository repo(ro);
  if (!a.repository.empty()) repo.add_repository(a.repository);
  for (const auto& spec : a.models) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw Error(ErrorCode::kInvalidArgument, "--model: expected NAME=PATH, not '" + printable(spec) + "'");
    repo.add_model(spec.substr(0, eq), spec.substr(eq + 1));
  }
  repo.load_all();
  serve::Server server(repo, a.server);
  const int port = server.bind();
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == SIGTERM || sig == SIGINT) {
      std::fprintf(stderr, "{\"event\":\"stopping\",\"signal\":\"%s\"}\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      server.stop();
    }
  });
  nlohmann::ordered_json ready = {{"event", "ready"}, {"host", a.server.host}, {"port", port}, {"ready_ms", g_process_timer.elapsed_ms()}};
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (const auto& name : repo.model_names()) models.push_back({{"name", name}, {"versions", repo.versions(name)}});
  ready["models"] = models;
  std::fprintf(stderr, "%s\n", ready.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  server.serve();
  // serve() returns after stop(); if it returned on its own (listener failure), wake the signal thread.
  server.stop();
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  std::fprintf(stderr, "{\"event\":\"stopped\"}\n");
}

void setup_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve models over HTTP: KServe v2 / Open Inference Protocol, /predict, /metrics");
  auto a = std::make_shared<ServeArgs>();
  cmd->add_option("--model-repository", a->repository, "Directory of <name>/<version>/model.onnx (Triton/KServe layout)")
                   ->check(input_directory());
  cmd->add_option("--model", a->models, "NAME=PATH: serve one model file as NAME (repeatable)");
  cmd->add_option("--host", a->server.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", a->server.port, "Port (0 = any free port, printed in the ready line)")->capture_default_str()->check(whole_number(0, 65535));
  cmd->add_option("--threads", a->threads, "Intra-op threads shared by every model")->capture_default_str()->transform(thread_count(1));
  cmd->add_option("--max-connections", a->server.max_connections, "Connections open at once (one thread each; more get 503)")
      ->capture_default_str()->check(whole_number(1, 4096));
  cmd->add_option("--max-batch", a->server.max_batch, "Dynamic batching: merge up to N concurrent requests per run (1 = off)")
      ->capture_default_str()->check(whole_number(1, 1024));
  cmd->add_option("--batch-timeout-us", a->server.batch_timeout_us, "How long a batch waits to fill")
      ->capture_default_str()->check(whole_number(0, 10000000));
  cmd->add_option("--max-body", a->server.max_body_bytes, "Largest request body in bytes (413 above)")
      ->capture_default_str()->check(whole_number(1, int64_t{1} << 32));
  cmd->add_option("--max-image-bytes", a->server.max_image_bytes, "Decode budget of one /predict image (W x H x channels)")
      ->capture_default_str()->check(whole_number(1, int64_t{1} << 32));
  cmd->add_option("--request-timeout", a->server.request_timeout_s, "Seconds to read a request or write a response")
      ->capture_default_str()->check(whole_number(1, 3600));
  cmd->add_option("--poll-ms", a->server.poll_ms, "Rescan the model repository this often for new or replaced versions (0 = never)")
      ->capture_default_str()->check(whole_number(0, 3600000));
  cmd->add_option("--drain-timeout", a->server.drain_timeout_s, "Seconds in-flight requests get to finish on SIGTERM")
      ->capture_default_str()->check(whole_number(0, 3600));
  cmd->add_option("--static", a->server.static_dir,
                  "Serve the files under DIR at / (GET/HEAD, COOP/COEP headers: the browser app's build output)")
      ->check(input_directory());
  cmd->add_option("--static-max-bytes", a->server.static_max_bytes, "Largest static file served (403 above)")
      ->capture_default_str()->check(whole_number(1));
  cmd->add_flag("!--no-request-log", a->server.log_requests, "No JSON line per request on stderr");
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("serve", 75, setup_serve);

}  // namespace edgeq::cli
