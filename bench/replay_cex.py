#!/usr/bin/python3
"""Independent replay of `sat` answers: evaluates the ONNX network EXACTLY (Python fractions, from the
float32 weights read by the onnx package) at the counterexample's X, and the VNN-LIB assertions
exactly on the result, with its own s-expression reader (no TorchLean code).  Supports the ops of
the VNN-COMP 2021 ACAS Xu and test networks (Sub, Add, MatMul, Gemm, Flatten, Relu).
  bench/replay_cex.py LIST.csv     (lines onnx,vnnlib,result_file)
Prints one line per instance and exits 1 if any counterexample does not violate the property."""
import sys
from fractions import Fraction

import numpy as np
import onnx
from onnx import numpy_helper


def sexprs(text):
    toks = text.replace("(", " ( ").replace(")", " ) ").split()
    stack, out = [[]], None
    for t in toks:
        if t == "(":
            stack.append([])
        elif t == ")":
            e = stack.pop()
            stack[-1].append(e)
        else:
            stack[-1].append(t)
    return stack[0]


def strip_comments(text):
    return "\n".join(l.split(";", 1)[0] for l in text.splitlines())


def term(e, env):
    if isinstance(e, str):
        return env[e] if e in env else Fraction(e)
    op, args = e[0], [term(a, env) for a in e[1:]]
    if op == "+":
        return sum(args, Fraction(0))
    if op == "-":
        return -args[0] if len(args) == 1 else args[0] - sum(args[1:], Fraction(0))
    if op == "*":
        r = Fraction(1)
        for a in args:
            r *= a
        return r
    if op == "/":
        r = args[0]
        for a in args[1:]:
            r /= a
        return r
    raise ValueError("term " + op)


def formula(e, env):
    op = e[0]
    if op == "and":
        return all(formula(a, env) for a in e[1:])
    if op == "or":
        return any(formula(a, env) for a in e[1:])
    a, b = term(e[1], env), term(e[2], env)
    return {"<=": a <= b, ">=": a >= b, "<": a < b, ">": a > b, "=": a == b}[op]


def exact_eval(path, x):
    m = onnx.load(path)
    g = m.graph
    w = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    inputs = [i for i in g.input if i.name not in w]
    shape = [d.dim_value or 1 for d in inputs[0].type.tensor_type.shape.dim]
    val = {inputs[0].name: np.array([Fraction(float(v)) for v in x], dtype=object).reshape(shape)}

    def get(n):
        if n in val:
            return val[n]
        return np.vectorize(lambda v: Fraction(float(v)), otypes=[object])(w[n])

    for n in g.node:
        a = [get(i) for i in n.input]
        if n.op_type == "Sub":
            r = a[0] - a[1]
        elif n.op_type == "Add":
            r = a[0] + a[1]
        elif n.op_type == "MatMul":
            r = np.dot(a[0], a[1])
        elif n.op_type == "Gemm":
            r = np.dot(a[0], a[1].T if any(t.name == "transB" and t.i for t in n.attribute) else a[1]) + a[2]
        elif n.op_type == "Flatten":
            r = a[0].reshape(a[0].shape[0], -1)
        elif n.op_type == "Relu":
            r = np.vectorize(lambda v: v if v > 0 else Fraction(0), otypes=[object])(a[0])
        else:
            raise ValueError("op " + n.op_type)
        val[n.output[0]] = r
    return list(val[g.output[0].name].reshape(-1))


def main():
    bad = 0
    for line in open(sys.argv[1]):
        onnx_path, prop, res = line.strip().split(",")
        txt = open(res).read()
        if not txt.startswith("sat"):
            print("skip (not sat):", res)
            continue
        env, xs = {}, {}
        for e in sexprs(txt[3:])[0]:
            env[e[0]] = Fraction(float(e[1]))
        nx = sum(1 for k in env if k.startswith("X_"))
        x = [env["X_%d" % i] for i in range(nx)]
        y = exact_eval(onnx_path, x)
        exact_env = {"X_%d" % i: v for i, v in enumerate(x)}
        exact_env.update({"Y_%d" % j: v for j, v in enumerate(y)})
        asserts = [e[1] for e in sexprs(strip_comments(open(prop).read())) if e[0] == "assert"]
        ok = all(formula(a, exact_env) for a in asserts)
        bad += not ok
        print("%s %s %s" % ("violates (confirmed)" if ok else "DOES NOT VIOLATE", onnx_path.split("/")[-1],
                             prop.split("/")[-1]))
    sys.exit(1 if bad else 0)


main()
