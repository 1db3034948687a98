// TfIdfVectorizer over integer tokens, reference: counts of the pool's n-grams (lengths min_gram_length
// to max_gram_length, items up to max_skip_count apart) per row, as TF, IDF or TFIDF. As onnxruntime
// counts them: every skip distance from 1 to max_skip_count + 1, unigrams only at distance 1.
#include <map>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

struct NgramTable {
  std::map<std::vector<int64_t>, int64_t> output_of;  // n-gram -> output index
  int64_t outputs = 0, min_n = 1, max_n = 1, max_skip = 0;
  enum class Mode { kTf, kIdf, kTfIdf } mode = Mode::kTf;
  std::vector<float> weights;  // per output index (IDF / TFIDF)
};

NgramTable ngram_table(const Builder& b) {
  const auto& node = b.node();
  NgramTable t;
  t.min_n = node.attr_int("min_gram_length", 0);
  t.max_n = node.attr_int("max_gram_length", 0);
  t.max_skip = node.attr_int("max_skip_count", 0);
  if (t.min_n < 1 || t.max_n < t.min_n || t.max_n > 64 || t.max_skip < 0 || t.max_skip > (1 << 20))
    b.invalid("needs 1 <= min_gram_length <= max_gram_length <= 64 and max_skip_count >= 0");
  const std::string mode = node.attr_string("mode", "");
  if (mode == "TF") t.mode = NgramTable::Mode::kTf;
  else if (mode == "IDF") t.mode = NgramTable::Mode::kIdf;
  else if (mode == "TFIDF") t.mode = NgramTable::Mode::kTfIdf;
  else b.invalid("mode '" + mode + "' is not TF, IDF or TFIDF");
  if (node.find_attr("pool_strings")) b.unsupported("string pools");
  const auto pool = node.attr_ints("pool_int64s"), counts = node.attr_ints("ngram_counts"), indexes = node.attr_ints("ngram_indexes");
  // ngram_counts[k]: where the n-grams of length k + 1 start in the pool.
  size_t next = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    const int64_t begin = counts[k], end = k + 1 < counts.size() ? counts[k + 1] : static_cast<int64_t>(pool.size());
    const auto n = static_cast<int64_t>(k + 1);
    if (begin < 0 || end < begin || end > static_cast<int64_t>(pool.size()) || (end - begin) % n != 0)
      b.invalid("ngram_counts do not split pool_int64s into n-grams");
    for (int64_t at = begin; at < end; at += n, ++next) {
      if (next >= indexes.size() || indexes[next] < 0 || indexes[next] > (1 << 24)) b.invalid("ngram_indexes must give an index in [0, 2^24] per n-gram");
      t.output_of[std::vector<int64_t>(pool.begin() + at, pool.begin() + at + n)] = indexes[next];
      t.outputs = std::max(t.outputs, indexes[next] + 1);
    }
  }
  t.weights = node.attr_floats("weights");
  if (t.weights.empty()) t.weights.assign(static_cast<size_t>(t.outputs), 1.f);
  if (static_cast<int64_t>(t.weights.size()) < t.outputs) b.invalid("weights must have one value per output");
  return t;
}

template <typename T>
void count_row(const T* x, int64_t len, const NgramTable& t, float* y) {
  std::vector<int64_t> gram;
  for (int64_t skip = 1; skip <= t.max_skip + 1; ++skip)
    for (int64_t start = 0; start < len; ++start) {
      gram.clear();
      for (int64_t pos = start; pos < len && static_cast<int64_t>(gram.size()) < t.max_n; pos += skip) {
        gram.push_back(static_cast<int64_t>(x[pos]));
        const auto n = static_cast<int64_t>(gram.size());
        if (n < t.min_n || (n == 1 && skip > 1)) continue;
        const auto hit = t.output_of.find(gram);
        if (hit != t.output_of.end()) y[hit->second] += 1.f;
      }
    }
  for (int64_t o = 0; o < t.outputs; ++o) {
    if (t.mode == NgramTable::Mode::kIdf) y[o] = y[o] > 0 ? t.weights[o] : 0.f;
    if (t.mode == NgramTable::Mode::kTfIdf) y[o] *= t.weights[o];
  }
}

}  // namespace

void compile_tf_idf_vectorizer(Builder& b) {
  b.check_dtype(0, {DType::kI32, DType::kI64});
  const Shape in = b.input(0).shape;
  if (in.empty() || in.size() > 2) b.invalid("X must be [C] or [N, C]");
  const NgramTable t = ngram_table(b);
  const int64_t rows = in.size() == 2 ? in[0] : 1, len = in.back();
  const Shape out = in.size() == 2 ? Shape{rows, t.outputs} : Shape{t.outputs};
  const bool wide = b.input(0).dtype == DType::kI64;
  const int32_t x = b.input_plain(0), y = b.output(0, DType::kF32, out);
  emit_closure(b, [=](const ExecContext& ctx) {
    float* yp = ctx.at<float>(y);
    std::fill(yp, yp + rows * t.outputs, 0.f);
    for (int64_t r = 0; r < rows; ++r) {
      if (wide)
        count_row(ctx.at<const int64_t>(x) + r * len, len, t, yp + r * t.outputs);
      else
        count_row(ctx.at<const int32_t>(x) + r * len, len, t, yp + r * t.outputs);
    }
  });
}

}  // namespace edgeq::runtime::detail
