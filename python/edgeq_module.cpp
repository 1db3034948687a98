// The Python module `edgeq._edgeq` (re-exported by edgeq/__init__.py): edgeq.Session over NumPy.
// Inputs that are C-contiguous, aligned and of the input's dtype are read in place (Tensor::wrap);
// any other array is copied once with numpy.ascontiguousarray, which _input_copies() counts so a
// test can prove the fast path taken. Outputs are NumPy arrays over the runtime's own result tensors
// (no copy). run() releases the GIL; edgeq errors become edgeq.Error (a RuntimeError) with `.code`.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <bit>
#include <memory>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/runtime.h"

namespace py = pybind11;

namespace {

using edgeq::DType;
using edgeq::Error;
using edgeq::ErrorCode;

std::atomic<uint64_t> input_copies{0};

py::dtype numpy_dtype(DType t) {
  if (t == DType::kBF16 || edgeq::dtype_size(t) == 0)
    throw Error(ErrorCode::kUnsupported, std::string("dtype ") + edgeq::dtype_name(t) + " has no NumPy equivalent");
  return py::dtype(edgeq::dtype_name(t));  // edgeq's names are NumPy's ("float32", "uint8", "bool", ...)
}

// The edgeq dtype of a NumPy dtype in native byte order; kUndefined when edgeq has none.
DType edgeq_dtype(const py::dtype& d) {
  const char foreign_order = std::endian::native == std::endian::little ? '>' : '<';
  if (d.byteorder() == foreign_order) return DType::kUndefined;
  const auto size = d.itemsize();
  switch (d.kind()) {
    case 'f': return size == 4 ? DType::kF32 : size == 8 ? DType::kF64 : size == 2 ? DType::kF16 : DType::kUndefined;
    case 'i': return size == 1 ? DType::kI8 : size == 2 ? DType::kI16 : size == 4 ? DType::kI32 : size == 8 ? DType::kI64 : DType::kUndefined;
    case 'u': return size == 1 ? DType::kU8 : size == 2 ? DType::kU16 : size == 4 ? DType::kU32 : size == 8 ? DType::kU64 : DType::kUndefined;
    case 'b': return size == 1 ? DType::kBool : DType::kUndefined;
    default: return DType::kUndefined;
  }
}

py::object shape_tuple(const edgeq::Shape& shape) {
  py::list dims;
  for (int64_t d : shape) dims.append(d < 0 ? py::none() : py::object(py::int_(d)));
  return py::tuple(dims);
}

// One input or output of a Session, as Python sees it.
struct PyIoInfo {
  std::string name;
  py::dtype dtype;
  py::object shape;  // tuple; None for dims the model leaves open
};

std::vector<PyIoInfo> describe(const std::vector<edgeq::runtime::IoInfo>& list) {
  std::vector<PyIoInfo> out;
  for (const auto& io : list) out.push_back({io.name, numpy_dtype(io.dtype), shape_tuple(io.shape)});
  return out;
}

class PySession {
 public:
  explicit PySession(edgeq::runtime::Session session) : session_(std::move(session)) {}

  static PySession from_file(const std::string& path, int threads) {
    edgeq::runtime::SessionOptions options;
    options.threads = threads;
    return PySession(edgeq::runtime::load_session(path, options));
  }

  static PySession from_bytes(const py::bytes& bytes, int threads) {
    edgeq::runtime::SessionOptions options;
    options.threads = threads;
    const std::string_view view(bytes);  // no copy: the reader decodes the bytes object in place
    return PySession(edgeq::runtime::load_session_from_buffer(view.data(), view.size(), options, "<bytes>"));
  }

  std::vector<PyIoInfo> inputs() const { return describe(session_.inputs()); }
  std::vector<PyIoInfo> outputs() const { return describe(session_.outputs()); }

  // inputs: a dict name -> array, or a sequence of arrays in inputs() order. Returns a dict
  // name -> array in outputs() order.
  py::dict run(const py::object& inputs) const {
    const auto& want = session_.inputs();
    std::vector<py::array> arrays;  // hold the buffers while the runtime reads them
    if (py::isinstance<py::dict>(inputs)) {
      const auto named = inputs.cast<py::dict>();
      for (const auto& item : named) {
        const auto key = py::str(item.first).cast<std::string>();
        bool known = false;
        for (const auto& w : want) known = known || w.name == key;
        if (!known) throw Error(ErrorCode::kInvalidArgument, "'" + key + "' is not an input of the model");
      }
      for (const auto& w : want) {
        if (!named.contains(w.name)) throw Error(ErrorCode::kInvalidArgument, "input '" + w.name + "' is missing");
        arrays.push_back(as_array(named[py::str(w.name)], w));
      }
    } else if (py::isinstance<py::sequence>(inputs) && !py::isinstance<py::str>(inputs)) {
      const auto list = inputs.cast<py::sequence>();
      if (list.size() != want.size())
        throw Error(ErrorCode::kInvalidArgument, "expected " + std::to_string(want.size()) + " input(s), got " + std::to_string(list.size()));
      for (size_t i = 0; i < want.size(); ++i) arrays.push_back(as_array(list[i], want[i]));
    } else {
      throw Error(ErrorCode::kInvalidArgument, "run() takes a dict of input name -> array, or a list of arrays");
    }

    std::vector<edgeq::Tensor> tensors;
    for (size_t i = 0; i < arrays.size(); ++i) {
      const py::array& a = arrays[i];
      edgeq::Shape shape(a.shape(), a.shape() + a.ndim());
      tensors.push_back(edgeq::Tensor::wrap(edgeq_dtype(a.dtype()), std::move(shape), const_cast<void*>(a.data()),
                                            static_cast<size_t>(a.nbytes())));
    }
    std::vector<edgeq::Tensor> results;
    {
      py::gil_scoped_release release;
      results = session_.run(tensors);
    }
    py::dict out;
    const auto& names = session_.outputs();
    for (size_t i = 0; i < results.size(); ++i) out[py::str(names[i].name)] = to_numpy(std::move(results[i]));
    return out;
  }

 private:
  // The object as an array edgeq can read in place: the array itself when it already is one, else
  // one copy (counted). A dtype other than the input's is an error, not a silent cast.
  static py::array as_array(const py::handle& obj, const edgeq::runtime::IoInfo& want) {
    py::array a = py::isinstance<py::array>(obj) ? py::reinterpret_borrow<py::array>(obj) : py::array(py::module_::import("numpy").attr("asarray")(obj, numpy_dtype(want.dtype)));
    if (!py::isinstance<py::array>(obj)) ++input_copies;
    const DType got = edgeq_dtype(a.dtype());
    if (got != want.dtype)
      throw Error(ErrorCode::kInvalidArgument, "input '" + want.name + "' has dtype " + a.dtype().attr("name").cast<std::string>() + ", expected " +
                                                   edgeq::dtype_name(want.dtype));
    const bool in_place = (a.flags() & py::array::c_style) && (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_);
    if (!in_place) {
      a = py::array(py::module_::import("numpy").attr("ascontiguousarray")(a));
      ++input_copies;
    }
    return a;
  }

  static py::array to_numpy(edgeq::Tensor t) {
    auto* owned = new edgeq::Tensor(std::move(t));
    py::capsule free_tensor(owned, [](void* p) { delete static_cast<edgeq::Tensor*>(p); });
    std::vector<py::ssize_t> shape(owned->shape().begin(), owned->shape().end());
    return py::array(numpy_dtype(owned->dtype()), shape, owned->raw(), free_tensor);
  }

  edgeq::runtime::Session session_;
};

}  // namespace

PYBIND11_MODULE(_edgeq, m) {
  m.doc() = "edgeq: int8 inference of small image classifiers (runtime Session over NumPy)";
  m.attr("__version__") = edgeq::version();

  static py::exception<Error> error_type(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::object err = py::handle(error_type.ptr())(e.what());  // an instance, to carry .code
      err.attr("code") = edgeq::error_code_name(e.code());
      PyErr_SetObject(error_type.ptr(), err.ptr());
    }
  });

  py::class_<PyIoInfo>(m, "IoInfo", "Name, NumPy dtype and shape (None for open dims) of an input or output.")
      .def_readonly("name", &PyIoInfo::name)
      .def_readonly("dtype", &PyIoInfo::dtype)
      .def_readonly("shape", &PyIoInfo::shape)
      .def("__repr__", [](const PyIoInfo& io) {
        return "IoInfo(name=" + py::repr(py::str(io.name)).cast<std::string>() + ", dtype=" + io.dtype.attr("name").cast<std::string>() +
               ", shape=" + py::repr(io.shape).cast<std::string>() + ")";
      });

  py::class_<PySession>(m, "Session", "An ONNX model compiled for edgeq's CPU runtime; run() is safe from many threads.")
      .def(py::init(&PySession::from_file), py::arg("path"), py::arg("threads") = 1,
           "Loads and compiles an ONNX file. threads: intra-op threads including the caller (<= 0: all).")
      .def_static("from_bytes", &PySession::from_bytes, py::arg("data"), py::arg("threads") = 1,
                  "The same from the bytes of a serialized ONNX model.")
      .def_property_readonly("inputs", &PySession::inputs)
      .def_property_readonly("outputs", &PySession::outputs)
      .def("run", &PySession::run, py::arg("inputs"),
           "Runs on a dict name -> array (or a list in inputs order); returns a dict name -> array. "
           "C-contiguous arrays of the input's dtype are read in place; the GIL is released while it runs.");

  m.def("_input_copies", [] { return input_copies.load(); }, "How many input arrays run() had to copy (a test hook).");
}
