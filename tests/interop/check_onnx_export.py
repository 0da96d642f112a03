"""Check the ONNX files written by tests/interop/test_onnx_export.c.

usage: check_onnx_export.py MANIFEST [DOCS_MD]

For every case of the manifest (written by the C test):
  - onnx.checker.check_model(model, full_check=True) passes (full_check runs ONNX's strict shape
    inference against the value_info the exporter wrote);
  - IR version 7, one opset import ("", 13), producer "torchlean";
  - every parameter is an initializer under its own (state-dict) name with the same float32 bits;
  - the graph inputs are exactly the inputs the C test fed (labels of a loss dropped);
  - a small float64 numpy interpreter of the ONNX ops below reproduces the float32 runtime's
    outputs within the case's tolerance: |onnx - ours| <= tol (1 + |ours|) elementwise;
  - where axis 0 is the symbolic batch dimension, the model evaluated on the first sample only
    gives the first row of every output (the batch really is free).
With DOCS_MD, the Python block of docs/pytorch.md marked as tested is executed and the MLP and
CNN it rebuilds in PyTorch from our model files reproduce our outputs (manifest `torch` lines).

Manifest lines (whitespace separated, paths relative to the manifest's folder):
  case NAME ONNX TOL            starts a case
  in NAME NPY                   a graph input and its value
  out NPY                       the expected value of the next graph output
  param NAME NPY                a parameter and its float32 value
  sym 0|1                       whether the exporter reported a symbolic batch
  torch KIND MODEL INPUT OUTPUT ARGS...   docs snippet check (KIND mlp or cnn)
"""
import os
import re
import sys

import numpy as np

try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError as e:  # the C test checks this first; say it clearly anyway
    sys.exit("check_onnx_export.py: the onnx module is required (apt install python3-onnx): %s" % e)


# ---- a float64 interpreter of the ops the exporter writes ------------------------------------

def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, a):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    g = a.get("group", 1)
    assert a.get("kernel_shape", [kh, kw]) == [kh, kw]
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    ho = (h + p[0] + p[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (wd + p[1] + p[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    y = np.zeros((n, o, ho, wo))
    og = o // g
    for gi in range(g):
        xs = xp[:, gi * cg:(gi + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * d[0]:i * d[0] + s[0] * (ho - 1) + 1:s[0],
                           j * d[1]:j * d[1] + s[1] * (wo - 1) + 1:s[1]]
                y[:, gi * og:(gi + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[gi * og:(gi + 1) * og, :, i, j])
    if b is not None:
        y += b[None, :, None, None]
    return y


def pool(x, a, kind):
    k = a["kernel_shape"]
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    assert a.get("ceil_mode", 0) == 0
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=fill)
    h, w = x.shape[2], x.shape[3]
    ho = (h + p[0] + p[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (w + p[1] + p[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    taps = [xp[:, :, i * d[0]:i * d[0] + s[0] * (ho - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (wo - 1) + 1:s[1]]
            for i in range(k[0]) for j in range(k[1])]
    if kind == "max":
        return np.max(np.stack(taps), axis=0)
    if a.get("count_include_pad", 0):
        return np.sum(np.stack(taps), axis=0) / (k[0] * k[1])
    ones = np.pad(np.ones_like(x), ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))  # in-range taps only
    count = sum(ones[:, :, i * d[0]:i * d[0] + s[0] * (ho - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (wo - 1) + 1:s[1]]
                for i in range(k[0]) for j in range(k[1]))
    return np.sum(np.stack(taps), axis=0) / count


def softmax(x, axis, log):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = np.sum(e, axis=axis, keepdims=True)
    return (x - m) - np.log(s) if log else e / s


def reshape(x, shape):
    shape = [int(v) for v in shape]
    shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]  # opset 13: 0 copies
    return x.reshape(shape)


def slice_(x, starts, ends, axes, steps):
    idx = [slice(None)] * x.ndim
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        idx[int(ax)] = slice(int(st), int(en), int(sp))
    return x[tuple(idx)]


def reduce(x, axes, keep, fn):
    axes = None if axes is None or len(axes) == 0 else tuple(int(v) % x.ndim for v in axes)
    return fn(x, axis=axes, keepdims=bool(keep))


def gemm(i, a):
    A, B = i[0], i[1]
    if a.get("transA", 0):
        A = A.T
    if a.get("transB", 0):
        B = B.T
    y = a.get("alpha", 1.0) * (A @ B)
    return y + a.get("beta", 1.0) * i[2] if len(i) > 2 else y


def batch_norm(i, a):
    x, sc, b, m, v = i
    sh = [1, -1] + [1] * (x.ndim - 2)
    eps = float(np.float32(a.get("epsilon", 1e-5)))
    return (x - m.reshape(sh)) / np.sqrt(v.reshape(sh) + eps) * sc.reshape(sh) + b.reshape(sh)


OPS = {
    "Add": lambda i, a: i[0] + i[1],
    "Sub": lambda i, a: i[0] - i[1],
    "Mul": lambda i, a: i[0] * i[1],
    "Div": lambda i, a: i[0] / i[1],
    "Max": lambda i, a: np.maximum(i[0], i[1]),
    "Min": lambda i, a: np.minimum(i[0], i[1]),
    "Neg": lambda i, a: -i[0],
    "Abs": lambda i, a: np.abs(i[0]),
    "Sqrt": lambda i, a: np.sqrt(i[0]),
    "Exp": lambda i, a: np.exp(i[0]),
    "Log": lambda i, a: np.log(i[0]),
    "Relu": lambda i, a: np.maximum(i[0], 0),
    "LeakyRelu": lambda i, a: np.where(i[0] >= 0, i[0], a.get("alpha", 0.01) * i[0]),
    "Sigmoid": lambda i, a: 1 / (1 + np.exp(-i[0])),
    "Tanh": lambda i, a: np.tanh(i[0]),
    "Softmax": lambda i, a: softmax(i[0], a.get("axis", -1), False),
    "LogSoftmax": lambda i, a: softmax(i[0], a.get("axis", -1), True),
    "Clip": lambda i, a: np.minimum(np.maximum(i[0], i[1]), i[2]),
    "ReduceSum": lambda i, a: reduce(i[0], i[1] if len(i) > 1 else None, a.get("keepdims", 1), np.sum),
    "ReduceMean": lambda i, a: reduce(i[0], a.get("axes"), a.get("keepdims", 1), np.mean),
    "Reshape": lambda i, a: reshape(i[0], i[1]),
    "Flatten": lambda i, a: i[0].reshape(int(np.prod(i[0].shape[:a.get("axis", 1)])), -1),
    "Transpose": lambda i, a: np.transpose(i[0], a.get("perm")),
    "Concat": lambda i, a: np.concatenate(i, axis=a["axis"]),
    "Slice": lambda i, a: slice_(i[0], i[1], i[2], i[3], i[4] if len(i) > 4 else [1] * len(i[1])),
    "Gemm": gemm,
    "MatMul": lambda i, a: np.matmul(i[0], i[1]),
    "Conv": lambda i, a: conv(i[0], i[1], i[2] if len(i) > 2 else None, a),
    "MaxPool": lambda i, a: pool(i[0], a, "max"),
    "AveragePool": lambda i, a: pool(i[0], a, "avg"),
    "GlobalAveragePool": lambda i, a: np.mean(i[0], axis=tuple(range(2, i[0].ndim)), keepdims=True),
    "BatchNormalization": batch_norm,
    "Identity": lambda i, a: i[0],
    "Cast": lambda i, a: i[0].astype(np.int64) if a["to"] == onnx.TensorProto.INT64 else i[0],
    "Gather": lambda i, a: np.take(i[0], i[1], axis=a.get("axis", 0)),
}


def evaluate(model, feeds):
    env = {}
    for t in model.graph.initializer:
        v = numpy_helper.to_array(t)
        env[t.name] = v.astype(np.float64) if v.dtype == np.float32 else v
    for name, v in feeds.items():
        env[name] = v.astype(np.float64)
    for node in model.graph.node:
        if node.op_type not in OPS:
            raise RuntimeError("no numpy rule for ONNX op %s (node %s)" % (node.op_type, node.name))
        y = OPS[node.op_type]([env[n] for n in node.input], attrs(node))
        env[node.output[0]] = np.asarray(y)
    return [env[o.name] for o in model.graph.output]


# ---- one case -----------------------------------------------------------------------------------

def dims(vi):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in vi.type.tensor_type.shape.dim]


def worst(got, want):
    if got.shape != want.shape:
        raise AssertionError("shape %s, expected %s" % (got.shape, want.shape))
    if want.size == 0:
        return 0.0
    return float(np.max(np.abs(got - want.astype(np.float64)) / (1 + np.abs(want.astype(np.float64)))))


def check_header(model, case):
    assert model.ir_version == 7, model.ir_version
    ops = [(o.domain, o.version) for o in model.opset_import]
    assert ops == [("", 13)], ops
    assert model.producer_name == "torchlean", model.producer_name
    inits = {t.name: t for t in model.graph.initializer}
    for name, path in case["params"]:
        assert name in inits, "parameter %s is not an initializer" % name
        got = numpy_helper.to_array(inits[name])
        want = np.load(path)
        assert got.dtype == np.float32 and got.shape == want.shape, (name, got.dtype, got.shape, want.shape)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), "bits of %s differ" % name
    names = sorted(i.name for i in model.graph.input)
    assert names == sorted(n for n, _ in case["in"]), (names, case["in"])


def check_case(case):
    model = onnx.load(case["onnx"])
    onnx.checker.check_model(model, full_check=True)
    check_header(model, case)
    feeds = {n: np.load(p) for n, p in case["in"]}
    wants = [np.load(p) for p in case["out"]]
    assert len(model.graph.output) == len(wants), (len(model.graph.output), len(wants))
    gots = evaluate(model, feeds)
    err = max(worst(g, w) for g, w in zip(gots, wants))
    assert err <= case["tol"], "max error %.3g over tolerance %.3g" % (err, case["tol"])
    sym = [i for i in model.graph.input if dims(i) and dims(i)[0] == "N"]
    assert bool(sym) == bool(case["sym"]), "symbolic batch %s, the exporter said %d" % (bool(sym), case["sym"])
    if case["sym"]:  # the batch is free: the first sample alone gives the first rows
        assert len(sym) == len(model.graph.input), "some inputs keep a fixed batch"
        gots1 = evaluate(model, {n: v[:1] for n, v in feeds.items()})
        for o, g1, w in zip(model.graph.output, gots1, wants):
            if dims(o) and dims(o)[0] == "N":
                err = max(err, worst(g1, w[:1]))
        assert err <= case["tol"], "first-sample max error %.3g over tolerance %.3g" % (err, case["tol"])
    return err


# ---- the docs snippet -----------------------------------------------------------------------------

def docs_snippet(md_path):
    text = open(md_path).read()
    m = re.search(r"<!-- tested by tests/interop/check_onnx_export.py -->\s*```python\n(.*?)```", text, re.S)
    assert m, "no tested python block in %s" % md_path
    env = {}
    exec(compile(m.group(1), md_path, "exec"), env)
    return env


def check_torch(env, kind, model_path, in_path, out_path, args):
    import torch
    tensors, graph = env["read_torchlean"](model_path)
    assert graph["format"] == "torchlean.ir.v1"
    if kind == "mlp":
        net = env["torchlean_mlp"](int(args[0]), [int(v) for v in args[1].split(",")], int(args[2]))
    else:
        net = env["torchlean_cnn"](int(args[0]), int(args[1]), int(args[2]))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    net.eval()
    with torch.no_grad():
        got = net(torch.from_numpy(np.load(in_path))).numpy()
    return worst(got.astype(np.float64), np.load(out_path))


# ---- driver ----------------------------------------------------------------------------------------

def read_manifest(path):
    base = os.path.dirname(os.path.abspath(path))
    cases, torch_lines, case = [], [], None
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "case":
            case = {"name": f[1], "onnx": os.path.join(base, f[2]), "tol": float(f[3]), "in": [], "out": [],
                    "params": [], "sym": 0}
            cases.append(case)
        elif f[0] == "in":
            case["in"].append((f[1], os.path.join(base, f[2])))
        elif f[0] == "out":
            case["out"].append(os.path.join(base, f[1]))
        elif f[0] == "param":
            case["params"].append((f[1], os.path.join(base, f[2])))
        elif f[0] == "sym":
            case["sym"] = int(f[1])
        elif f[0] == "torch":
            torch_lines.append([f[1]] + [os.path.join(base, p) for p in f[2:5]] + [f[5:]])
        else:
            raise ValueError("bad manifest line: %s" % line)
    return cases, torch_lines


def main():
    cases, torch_lines = read_manifest(sys.argv[1])
    failed, worst_by_group, nsym = 0, {}, 0
    for case in cases:
        nsym += case["sym"]
        try:
            err = check_case(case)
            group = case["name"].split("#")[0]
            worst_by_group[group] = max(worst_by_group.get(group, 0.0), err)
        except Exception as e:  # report every failing case, then fail
            failed += 1
            print("FAIL %s: %s: %s" % (case["name"], type(e).__name__, e))
    for group, err in sorted(worst_by_group.items()):
        print("ok %-22s max error %.3g" % (group, err))
    if len(sys.argv) > 2:
        env = docs_snippet(sys.argv[2])
        for kind, model, x, y, args in torch_lines:
            try:
                err = check_torch(env, kind, model, x, y, args)
                print("ok docs/pytorch.md %s: max error %.3g" % (kind, err))
                if err > 1e-5:
                    raise AssertionError("max error %.3g over 1e-5" % err)
            except Exception as e:
                failed += 1
                print("FAIL docs/pytorch.md %s: %s: %s" % (kind, type(e).__name__, e))
    print("%d cases (%d with a symbolic batch), %d failed" % (len(cases) + len(torch_lines), nsym, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
