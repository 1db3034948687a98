// The model repository: which models and versions exist (a Triton/KServe-layout directory or NAME=PATH),
// loading them into Sessions that share one thread pool, and swapping versions in and out while requests
// run. A request holds a shared_ptr to the LoadedModel it runs, so a swap or an unload never frees a
// Session under a running request; the old version goes when its last request ends.
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>

#include "edgeq/serve.h"

namespace edgeq::serve {
namespace fs = std::filesystem;

namespace {

constexpr const char* kModelFile = "model.onnx";

// A parsed version name: numeric parts (an integer is N.0.0), whether it has a pre-release tag, the text.
struct VersionKey {
  bool numeric = false;
  std::vector<uint64_t> parts;
  std::string pre;  // "rc1" in 1.2.0-rc1; empty for a release
};

bool parse_uint(std::string_view s, uint64_t& v) {
  if (s.empty() || s.size() > 18) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

VersionKey parse_version(std::string_view v) {
  VersionKey k;
  std::string_view core = v;
  if (const size_t dash = v.find('-'); dash != std::string_view::npos) {
    core = v.substr(0, dash);
    k.pre = std::string(v.substr(dash + 1));
  }
  if (!core.empty() && core.front() == 'v') core.remove_prefix(1);
  size_t start = 0;
  while (start <= core.size()) {
    const size_t dot = core.find('.', start);
    const std::string_view part = core.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    uint64_t n = 0;
    if (!parse_uint(part, n) || k.parts.size() == 3) return {};
    k.parts.push_back(n);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  k.numeric = !k.parts.empty();
  k.parts.resize(3, 0);
  return k;
}

struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

struct VersionState {
  std::string path;
  std::shared_ptr<const LoadedModel> loaded;  // null: not loaded (failed, or unloaded)
  std::optional<FileStamp> stamp;             // of the file last tried
  std::string failure;                        // why the last load failed
};

struct ModelState {
  std::string file;  // --model NAME=PATH; empty for a repository model
  std::string repo;  // the repository directory it came from
  std::map<std::string, VersionState> versions;
  bool unloaded = false;
};

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  const VersionKey ka = parse_version(a), kb = parse_version(b);
  if (ka.numeric != kb.numeric) return ka.numeric ? 1 : -1;  // numbered versions above names
  if (!ka.numeric) return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  if (ka.parts != kb.parts) return ka.parts < kb.parts ? -1 : 1;
  if (ka.pre.empty() != kb.pre.empty()) return ka.pre.empty() ? 1 : -1;  // a release above its pre-releases
  return ka.pre.compare(kb.pre) < 0 ? -1 : (ka.pre == kb.pre ? 0 : 1);
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

struct ModelRepository::Impl {
  RepositoryOptions options;
  std::shared_ptr<ThreadPool> pool;
  std::vector<std::string> repos;
  mutable std::mutex mu;        // guards models (held briefly: lookups and swaps)
  std::mutex load_mu;           // one load or rescan at a time (compiles run outside `mu`)
  std::map<std::string, ModelState> models;
  std::function<void(const LoadedModel&)> on_loaded;

  std::shared_ptr<const LoadedModel> load_file(const std::string& name, const std::string& version, const std::string& path) {
    Timer timer;
    auto m = std::make_shared<LoadedModel>();
    m->name = name;
    m->version = version;
    m->path = path;
    onnx::Model model = onnx::read_model(path);
    try {
      m->preprocess = data::preprocess_from_metadata(model.metadata, path);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;  // no image metadata: a tensor-only model (v2 infer only)
    }
    m->labels = data::labels_from_metadata_if_any(model.metadata, path);
    runtime::SessionOptions so;
    so.thread_pool = pool;
    so.input_shapes = options.input_shapes;
    m->session = std::make_shared<const runtime::Session>(std::move(model), so);
    m->load_ms = timer.elapsed_ms();
    return m;
  }

  // Loads (or reloads) one version; on failure keeps what was loaded and records why. Returns whether
  // the loaded copy changed. Caller holds load_mu.
  bool load_version(const std::string& name, const std::string& version, const std::string& path, bool throw_errors) {
    const auto stamp = stamp_of(path);
    std::shared_ptr<const LoadedModel> loaded;
    std::string failure;
    try {
      loaded = load_file(name, version, path);
    } catch (const Error& e) {
      failure = e.what();
    } catch (const std::bad_alloc&) {
      failure = path + ": out of memory while loading";
    }
    {
      std::lock_guard lock(mu);
      VersionState& v = models[name].versions[version];
      v.path = path;
      v.stamp = stamp;
      v.failure = failure;
      if (loaded) v.loaded = loaded;
    }
    if (!failure.empty()) {
      if (throw_errors) throw Error(ErrorCode::kInvalidModel, failure);
      return false;
    }
    if (on_loaded) on_loaded(*loaded);
    return true;
  }

  // Versions on disk for a repository model: <repo>/<name>/<version>/model.onnx.
  static std::map<std::string, std::string> scan_versions(const std::string& model_dir) {
    std::map<std::string, std::string> found;
    std::error_code ec;
    for (fs::directory_iterator it(model_dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string version = it->path().filename().string();
      if (!valid_name(version) || !it->is_directory(ec)) continue;
      const std::string file = (it->path() / kModelFile).string();
      if (stamp_of(file)) found[version] = file;
    }
    return found;
  }

  static std::vector<std::string> scan_models(const std::string& repo) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(repo, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (valid_name(name) && it->is_directory(ec)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // What a model's versions should be: from its file, or from its repository directory.
  std::map<std::string, std::string> wanted_versions(const ModelState& m, const std::string& name) const {
    if (!m.file.empty()) return {{"1", m.file}};
    return scan_versions((fs::path(m.repo) / name).string());
  }

  // Brings a model's versions in line with the disk: loads new and changed ones, drops removed ones.
  int sync_model(const std::string& name, bool force, bool throw_errors) {
    ModelState snapshot;
    {
      std::lock_guard lock(mu);
      auto it = models.find(name);
      if (it == models.end()) return 0;
      snapshot = it->second;
    }
    if (snapshot.unloaded && !force) return 0;
    const auto wanted = wanted_versions(snapshot, name);
    if (wanted.empty() && throw_errors)
      throw Error(ErrorCode::kNotFound, "model '" + name + "': no " + std::string(kModelFile) + " found (" +
                                            (snapshot.file.empty() ? snapshot.repo + "/" + name + "/<version>/" : snapshot.file) + ")");
    int changed = 0;
    for (const auto& [version, path] : wanted) {
      auto old = snapshot.versions.find(version);
      const bool same = old != snapshot.versions.end() && old->second.stamp == stamp_of(path) && old->second.path == path &&
                        (old->second.loaded || !old->second.failure.empty());
      if (same && !force) continue;
      changed += load_version(name, version, path, throw_errors) ? 1 : 0;
    }
    std::lock_guard lock(mu);
    ModelState& m = models[name];
    for (auto it = m.versions.begin(); it != m.versions.end();) {
      if (!wanted.count(it->first)) {
        it = m.versions.erase(it);
        ++changed;
      } else {
        ++it;
      }
    }
    m.unloaded = false;
    return changed;
  }
};

ModelRepository::ModelRepository(RepositoryOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->pool = impl_->options.thread_pool ? impl_->options.thread_pool
                                           : std::make_shared<ThreadPool>(std::max(1, impl_->options.threads));
}

ModelRepository::~ModelRepository() = default;

void ModelRepository::add_repository(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::kNotFound, "--model-repository: '" + printable(dir) + "' is not a directory");
  const auto names = Impl::scan_models(dir);
  if (names.empty()) throw Error(ErrorCode::kNotFound, "--model-repository: '" + printable(dir) + "' holds no <name>/<version>/model.onnx");
  std::lock_guard lock(impl_->mu);
  impl_->repos.push_back(dir);
  for (const auto& name : names) {
    if (impl_->models.count(name)) throw Error(ErrorCode::kInvalidArgument, "model '" + name + "' is given twice");
    impl_->models[name].repo = dir;
  }
}

void ModelRepository::add_model(const std::string& name, const std::string& path) {
  if (!valid_name(name))
    throw Error(ErrorCode::kInvalidArgument, "--model: '" + printable(name) + "' is not a model name (letters, digits, '_', '.', '-')");
  const std::string problem = regular_file_problem(path);
  if (!problem.empty()) throw Error(ErrorCode::kNotFound, "--model " + name + ": " + problem);
  std::lock_guard lock(impl_->mu);
  if (impl_->models.count(name)) throw Error(ErrorCode::kInvalidArgument, "model '" + name + "' is given twice");
  impl_->models[name].file = path;
}

void ModelRepository::load_all() {
  std::lock_guard load_lock(impl_->load_mu);
  std::vector<std::string> names;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [name, m] : impl_->models) names.push_back(name);
  }
  for (const auto& name : names) impl_->sync_model(name, /*force=*/true, /*throw_errors=*/true);
}

std::shared_ptr<const LoadedModel> ModelRepository::find(const std::string& name, const std::string& version) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->models.find(name);
  if (it == impl_->models.end() || it->second.unloaded) return nullptr;
  const auto& versions = it->second.versions;
  if (!version.empty()) {
    auto v = versions.find(version);
    return v == versions.end() ? nullptr : v->second.loaded;
  }
  std::shared_ptr<const LoadedModel> best;
  for (const auto& [v, state] : versions)
    if (state.loaded && (!best || compare_versions(v, best->version) > 0)) best = state.loaded;
  return best;
}

std::vector<std::string> ModelRepository::model_names() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> names;
  for (const auto& [name, m] : impl_->models) {
    if (m.unloaded) continue;
    for (const auto& [v, s] : m.versions)
      if (s.loaded) {
        names.push_back(name);
        break;
      }
  }
  return names;
}

std::vector<std::string> ModelRepository::versions(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  auto it = impl_->models.find(name);
  if (it == impl_->models.end() || it->second.unloaded) return out;
  for (const auto& [v, s] : it->second.versions)
    if (s.loaded) out.push_back(v);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return compare_versions(a, b) > 0; });
  return out;
}

std::vector<IndexEntry> ModelRepository::index() const {
  std::lock_guard lock(impl_->mu);
  std::vector<IndexEntry> out;
  for (const auto& [name, m] : impl_->models) {
    if (m.versions.empty()) out.push_back({name, "", "UNAVAILABLE", m.unloaded ? "unloaded" : "no version found"});
    for (const auto& [v, s] : m.versions) {
      IndexEntry e{name, v, "READY", ""};
      if (m.unloaded) {
        e.state = "UNAVAILABLE";
        e.reason = "unloaded";
      } else if (!s.failure.empty()) {
        e.state = s.loaded ? "READY" : "FAILED";
        e.reason = s.loaded ? "serving the previous copy; reload failed: " + s.failure : s.failure;
      } else if (!s.loaded) {
        e.state = "UNAVAILABLE";
        e.reason = "not loaded";
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

void ModelRepository::load(const std::string& name) {
  std::lock_guard load_lock(impl_->load_mu);
  bool known = false;
  {
    std::lock_guard lock(impl_->mu);
    known = impl_->models.count(name) > 0;
    if (!known) {
      // A model added to a repository directory after start-up can be loaded by name.
      for (const auto& repo : impl_->repos) {
        std::error_code ec;
        if (valid_name(name) && fs::is_directory(fs::path(repo) / name, ec)) {
          impl_->models[name].repo = repo;
          known = true;
          break;
        }
      }
    }
  }
  if (!known) throw Error(ErrorCode::kNotFound, "no model named '" + printable(name) + "' in the repository");
  impl_->sync_model(name, /*force=*/true, /*throw_errors=*/true);
}

void ModelRepository::unload(const std::string& name) {
  std::lock_guard load_lock(impl_->load_mu);
  std::lock_guard lock(impl_->mu);
  auto it = impl_->models.find(name);
  if (it == impl_->models.end()) throw Error(ErrorCode::kNotFound, "no model named '" + printable(name) + "' in the repository");
  it->second.unloaded = true;
  for (auto& [v, s] : it->second.versions) s.loaded.reset();  // requests in flight keep their own reference
}

int ModelRepository::poll_changes() {
  std::lock_guard load_lock(impl_->load_mu);
  std::vector<std::string> names;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& repo : impl_->repos)
      for (const auto& name : Impl::scan_models(repo))
        if (!impl_->models.count(name)) impl_->models[name].repo = repo;
    for (const auto& [name, m] : impl_->models) names.push_back(name);
  }
  int changed = 0;
  for (const auto& name : names) changed += impl_->sync_model(name, /*force=*/false, /*throw_errors=*/false);
  return changed;
}

void ModelRepository::on_loaded(std::function<void(const LoadedModel&)> callback) {
  std::lock_guard lock(impl_->load_mu);
  impl_->on_loaded = std::move(callback);
}

}  // namespace edgeq::serve
