"""The Python module against the C++ Session: run by ctest (embed_python_test) with PYTHONPATH at the
build tree's python/ and EDGEQ_EMBED_MODELS at the models embed_make_models wrote (each with the
C++ Session's outputs as NAME.OUTPUT.expected.bin); run again on the installed tree by the install
test. Debian's python3 + numpy only."""
import os
import threading
import time
import unittest

import numpy as np

import edgeq

MODELS = os.environ.get("EDGEQ_EMBED_MODELS", "")


def model(name):
    return os.path.join(MODELS, name + ".onnx")


def load(name, io, dtype, shape):
    return np.fromfile(os.path.join(MODELS, "%s.%s.bin" % (name, io)), dtype=dtype).reshape(shape)


def expected(name, io, dtype):
    return np.fromfile(os.path.join(MODELS, "%s.%s.expected.bin" % (name, io)), dtype=dtype)


def inputs_of(session, name):
    return {i.name: load(name, i.name, i.dtype, i.shape) for i in session.inputs}


class SessionTest(unittest.TestCase):
    def test_version(self):
        self.assertRegex(edgeq.__version__, r"^\d+\.\d+\.\d+")

    def test_describes_inputs_and_outputs(self):
        s = edgeq.Session(model("conv"), threads=1)
        self.assertEqual([i.name for i in s.inputs], ["input"])
        self.assertEqual(s.inputs[0].dtype, np.float32)
        self.assertEqual(s.inputs[0].shape, (1, 1, 8, 8))
        self.assertEqual([o.name for o in s.outputs], ["logits"])
        m = edgeq.Session(model("mixed"))
        self.assertEqual([i.dtype for i in m.inputs], [np.uint8, np.int8, np.int64, np.float32])
        self.assertEqual([o.dtype for o in m.outputs], [np.float32, np.int64])

    def test_outputs_equal_the_cpp_session(self):
        for name, threads in (("conv", 1), ("conv", 2), ("mixed", 1), ("tiny", 1)):
            s = edgeq.Session(model(name), threads=threads)
            out = s.run(inputs_of(s, name))
            self.assertEqual(list(out), [o.name for o in s.outputs])
            for o in s.outputs:
                got = out[o.name]
                self.assertEqual(got.dtype, o.dtype)
                np.testing.assert_array_equal(got.ravel(), expected(name, o.name, o.dtype), err_msg=name + " " + o.name)

    def test_list_inputs_and_from_bytes(self):
        with open(model("mixed"), "rb") as f:
            s = edgeq.Session.from_bytes(f.read())
        feeds = inputs_of(s, "mixed")
        out = s.run([feeds[i.name] for i in s.inputs])
        np.testing.assert_array_equal(out["twice"].ravel(), expected("mixed", "twice", np.int64))
        np.testing.assert_array_equal(out["twice"], feeds["c_i64"] * 2)

    def test_input_read_in_place(self):
        s = edgeq.Session(model("conv"))
        x = load("conv", "input", np.float32, (1, 1, 8, 8))
        want = expected("conv", "logits", np.float32)
        before = edgeq._edgeq._input_copies()
        # A view into a larger buffer, offset so it is not 64-byte aligned: still read in place.
        big = np.zeros(x.size + 3, np.float32)
        view = big[3:].reshape(x.shape)
        view[...] = x
        for _ in range(2):
            np.testing.assert_array_equal(s.run({"input": view})["logits"].ravel(), want)
        np.testing.assert_array_equal(s.run({"input": x})["logits"].ravel(), want)
        self.assertEqual(edgeq._edgeq._input_copies(), before, "a C-contiguous array of the right dtype was copied")
        np.testing.assert_array_equal(view, x)  # and not written to
        # A non-contiguous array is copied once (and still gives the same result).
        strided = np.zeros((1, 1, 8, 16), np.float32)
        strided[..., ::2] = x
        np.testing.assert_array_equal(s.run({"input": strided[..., ::2]})["logits"].ravel(), want)
        self.assertEqual(edgeq._edgeq._input_copies(), before + 1)

    def test_outputs_survive_the_session(self):
        s = edgeq.Session(model("conv"))
        out = s.run(inputs_of(s, "conv"))["logits"]
        del s
        np.testing.assert_array_equal(out.ravel(), expected("conv", "logits", np.float32))

    def test_errors_raise(self):
        with self.assertRaises(edgeq.Error) as e:
            edgeq.Session("/no/such/model.onnx")
        self.assertIn("/no/such/model.onnx", str(e.exception))
        self.assertEqual(e.exception.code, "not found")
        self.assertTrue(issubclass(edgeq.Error, RuntimeError))
        with self.assertRaises(edgeq.Error):
            edgeq.Session.from_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0fnot a model")
        with open(model("conv"), "rb") as f:
            data = f.read()
        with self.assertRaises(edgeq.Error):
            edgeq.Session.from_bytes(data[: len(data) // 2])
        s = edgeq.Session(model("conv"))
        x = load("conv", "input", np.float32, (1, 1, 8, 8))
        cases = [
            ({"input": x.astype(np.float64)}, "dtype float64"),
            ({"input": x.reshape(1, 1, 4, 16)}, "shape"),
            ({"input": x[..., :7]}, "shape"),
            ({}, "'input' is missing"),
            ({"input": x, "other": x}, "'other' is not an input"),
            ([x, x], "expected 1 input"),
            (42, "dict"),
        ]
        for feeds, message in cases:
            with self.assertRaises(edgeq.Error, msg=message) as e:
                s.run(feeds)
            self.assertIn(message, str(e.exception))
            self.assertEqual(e.exception.code, "invalid argument")
        np.testing.assert_array_equal(s.run({"input": x})["logits"].ravel(), expected("conv", "logits", np.float32))

    def test_gil_released_during_run(self):
        # While one thread is inside a long run() (heavy: ~200M multiply-adds), the main thread must
        # run Python code: with the GIL held through run(), it could only resume after run() returned.
        # Ten runs, so that a loaded machine descheduling the main thread for one run cannot fail it.
        s = edgeq.Session(model("heavy"))
        x = load("heavy", "x", np.float32, (128, 512))
        spans, outs = [], []

        def runs():
            for _ in range(10):
                start = time.perf_counter()
                outs.append(s.run({"x": x})["y"])
                spans.append((start, time.perf_counter()))

        worker = threading.Thread(target=runs)
        stamps = []
        worker.start()
        while worker.is_alive():
            stamps.append(time.perf_counter())
        worker.join()
        for out in outs:
            np.testing.assert_array_equal(out.ravel(), expected("heavy", "y", np.float32))
        inside = [t for t in stamps if any(a < t < b for a, b in spans)]
        self.assertGreater(len(inside), 0, "no Python ran during 10 runs of %.1f ms" % (1e3 * (spans[0][1] - spans[0][0])))

    def test_two_threads_run_one_session(self):
        s = edgeq.Session(model("conv"))
        x = load("conv", "input", np.float32, (1, 1, 8, 8))
        want = expected("conv", "logits", np.float32)
        results, errors = [], []

        def worker():
            try:
                for _ in range(2000):
                    results.append(s.run({"input": x})["logits"])
            except Exception as exc:  # surfaced below
                errors.append(exc)

        workers = [threading.Thread(target=worker) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        self.assertFalse(any(w.is_alive() for w in workers), "a run thread did not finish")
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 4000)
        for r in results[::97]:
            np.testing.assert_array_equal(r.ravel(), want)


if __name__ == "__main__":
    unittest.main()
