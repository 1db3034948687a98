"""The installed tree, as an embedder meets it (ctest embed_install_test, label e2e).

Installs BUILD into a fresh prefix, then, against that prefix only:
  - checks that docs/embedding.md shows exactly the example files docs/examples/** that are run here;
  - builds the C++ example with find_package(edgeq CONFIG) (edgeq::rt, static), the same source with
    pkg-config edgeq-rt (libedgeq_rt.so), and the C example with pkg-config;
  - runs all three and the Python example (PYTHONPATH=P/lib/python3/dist-packages) on conv.onnx and
    compares what they print with the C++ Session's output (conv.logits.expected.bin), exactly;
  - runs the Python unit tests against the installed module;
  - reads `readelf -d` of every consumer and of libedgeq_rt.so: no libonnx, libprotobuf or libtorch
    may be NEEDED; libedgeq_rt.so has its SONAME.
Usage: install_test.py SOURCE_DIR BUILD_DIR MODELS_DIR WORK_DIR (python3 with numpy)."""
import os
import re
import shutil
import subprocess
import sys
import unittest

import numpy as np

SOURCE, BUILD, MODELS, WORK = sys.argv[1:5]
del sys.argv[1:5]
PREFIX = os.path.join(WORK, "prefix")
FORBIDDEN = re.compile(r"onnx|protobuf|torch|c10")


def run(cmd, env=None, cwd=None):
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.run(cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stdout))
    return p.stdout


def needed(path):
    out = run(["readelf", "-d", path])
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out), re.findall(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)


def doc_blocks(doc):
    """{path: code} for every fenced block preceded by a line `<!-- example: PATH -->`."""
    blocks = {}
    for m in re.finditer(r"<!-- example: (\S+) -->\s*```\w*\n(.*?)```", doc, re.S):
        blocks[m.group(1)] = m.group(2)
    return blocks


def parse_printed(text):
    """{output name: (shape, values)} from the examples' lines `NAME [d0, d1]: v0 v1 ...`."""
    result = {}
    for line in text.splitlines():
        m = re.match(r"(\S+) \[([\d, ]*)\]:(.*)$", line)
        if m:
            shape = [int(d) for d in m.group(2).split(",") if d.strip()]
            result[m.group(1)] = (shape, np.array([float(v) for v in m.group(3).split()], np.float32))
    return result


class InstalledTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        run(["cmake", "--install", BUILD, "--prefix", PREFIX])
        cls.pkg_env = {"PKG_CONFIG_PATH": os.path.join(PREFIX, "lib", "pkgconfig")}
        cls.libdir = os.path.join(PREFIX, "lib")

    def check_prints_expected(self, cmd, env=None):
        out = run(cmd + [os.path.join(MODELS, "conv.onnx"), os.path.join(MODELS, "conv.input.bin")], env=env)
        printed = parse_printed(out)
        self.assertIn("logits", printed, out)
        shape, values = printed["logits"]
        self.assertEqual(shape, [1, 10])
        want = np.fromfile(os.path.join(MODELS, "conv.logits.expected.bin"), np.float32)
        np.testing.assert_array_equal(values, want, err_msg=" ".join(cmd))

    def check_no_heavy_needed(self, path):
        libs, _ = needed(path)
        self.assertEqual([lib for lib in libs if FORBIDDEN.search(lib)], [], path)

    def test_layout(self):
        for rel in ("include/edgeq/runtime.h", "include/edgeq/edgeq_c.h", "lib/libedgeq_rt.a", "lib/libedgeq_c.a",
                    "lib/libedgeq_rt.so", "lib/cmake/edgeq/edgeqConfig.cmake", "lib/pkgconfig/edgeq-rt.pc",
                    "lib/python3/dist-packages/edgeq/__init__.py"):
            self.assertTrue(os.path.exists(os.path.join(PREFIX, rel)), rel)
        shared = os.path.join(self.libdir, "libedgeq_rt.so")
        libs, soname = needed(shared)
        self.assertEqual(len(soname), 1)
        self.assertRegex(soname[0], r"^libedgeq_rt\.so\.\d+\.\d+$")
        self.assertTrue(os.path.exists(os.path.join(self.libdir, soname[0])))
        self.check_no_heavy_needed(shared)
        self.assertTrue(any(lib.startswith("libhwy") for lib in libs), libs)
        ext = [f for f in os.listdir(os.path.join(PREFIX, "lib/python3/dist-packages/edgeq")) if f.endswith(".so")]
        self.assertEqual(len(ext), 1)
        self.check_no_heavy_needed(os.path.join(PREFIX, "lib/python3/dist-packages/edgeq", ext[0]))

    def test_cli_is_installed_and_runs_a_model(self):
        edgeq = os.path.join(PREFIX, "bin", "edgeq")
        out = run([edgeq, "inspect", os.path.join(MODELS, "conv.onnx")])
        self.assertIn("logits", out)
        libs, _ = needed(edgeq)
        self.assertEqual([lib for lib in libs if re.search(r"torch|c10", lib)], [], "edgeq must not load LibTorch")
        torch = os.path.join(PREFIX, "bin", "edgeq-torch")
        if os.path.exists(os.path.join(BUILD, "bin", "edgeq-torch")):  # built with LibTorch: installed beside it
            self.assertTrue(os.path.exists(torch))
            self.assertIn("--epochs", run([edgeq, "train", "--help"]))

    def test_doc_shows_the_examples(self):
        with open(os.path.join(SOURCE, "docs", "embedding.md")) as f:
            blocks = doc_blocks(f.read())
        want = ["docs/examples/cpp/main.cpp", "docs/examples/cpp/CMakeLists.txt", "docs/examples/c/main.c",
                "docs/examples/python/run_model.py"]
        self.assertEqual(sorted(blocks), sorted(want))
        for rel, code in blocks.items():
            with open(os.path.join(SOURCE, rel)) as f:
                self.assertEqual(code, f.read(), "docs/embedding.md's block for %s differs from the file" % rel)

    def test_cpp_example_with_find_package(self):
        build = os.path.join(WORK, "cpp-cmake")
        run(["cmake", "-S", os.path.join(SOURCE, "docs/examples/cpp"), "-B", build, "-G", "Ninja",
             "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_PREFIX_PATH=" + PREFIX])
        run(["cmake", "--build", build])
        exe = os.path.join(build, "run_model")
        self.check_prints_expected([exe])
        self.check_no_heavy_needed(exe)

    def test_cpp_example_with_pkg_config(self):
        flags = run(["pkg-config", "--cflags", "--libs", "edgeq-rt"], env=self.pkg_env).split()
        exe = os.path.join(WORK, "run_model_pc")
        run(["c++", "-std=c++20", "-O2", os.path.join(SOURCE, "docs/examples/cpp/main.cpp"), "-o", exe] + flags +
            ["-Wl,-rpath," + self.libdir])
        self.check_prints_expected([exe])
        libs, _ = needed(exe)
        self.assertTrue(any(lib.startswith("libedgeq_rt.so.") for lib in libs), libs)
        self.check_no_heavy_needed(exe)

    def test_c_example_with_pkg_config(self):
        flags = run(["pkg-config", "--cflags", "--libs", "edgeq-rt"], env=self.pkg_env).split()
        exe = os.path.join(WORK, "run_model_c")
        run(["cc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", os.path.join(SOURCE, "docs/examples/c/main.c"),
             "-o", exe] + flags + ["-Wl,-rpath," + self.libdir])
        self.check_prints_expected([exe])
        self.check_no_heavy_needed(exe)

    def test_tooling_component(self):
        # edgeq::edgeq: the libonnx loader (checker + shape inference) and the runtime in one consumer.
        src = os.path.join(WORK, "tooling-src")
        os.makedirs(src, exist_ok=True)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.16)\nproject(tooling_consumer CXX)\nset(CMAKE_CXX_STANDARD 20)\n"
                    "find_package(edgeq CONFIG REQUIRED COMPONENTS tooling)\n"
                    "add_executable(checked_run main.cpp)\ntarget_link_libraries(checked_run PRIVATE edgeq::edgeq)\n")
        with open(os.path.join(src, "main.cpp"), "w") as f:
            f.write("#include <edgeq/onnx.h>\n#include <edgeq/runtime.h>\n#include <cstdio>\n"
                    "int main(int, char** argv) {\n"
                    "  edgeq::runtime::Session s(edgeq::onnx::load_model(argv[1]));  // checker + shape inference\n"
                    "  edgeq::Tensor x(s.inputs()[0].dtype, s.inputs()[0].shape);\n"
                    "  std::printf(\"outputs %zu\\n\", s.run({x}).size());\n}\n")
        build = os.path.join(WORK, "tooling-build")
        run(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_PREFIX_PATH=" + PREFIX])
        run(["cmake", "--build", build])
        out = run([os.path.join(build, "checked_run"), os.path.join(MODELS, "conv.onnx")])
        self.assertEqual(out.strip(), "outputs 1")
        libs, _ = needed(os.path.join(build, "checked_run"))
        self.assertTrue(any("onnx" in lib or "protobuf" in lib for lib in libs), libs)  # the tooling does bring them

    def test_python_example_and_tests_on_the_installed_module(self):
        env = {"PYTHONPATH": os.path.join(PREFIX, "lib", "python3", "dist-packages"), "EDGEQ_EMBED_MODELS": MODELS}
        where = run([sys.executable, "-c", "import edgeq; print(edgeq._edgeq.__file__)"], env=env).strip()
        self.assertTrue(where.startswith(PREFIX), where)
        self.check_prints_expected([sys.executable, os.path.join(SOURCE, "docs/examples/python/run_model.py")], env=env)
        run([sys.executable, "-m", "unittest", "test_python"], env=env, cwd=os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
