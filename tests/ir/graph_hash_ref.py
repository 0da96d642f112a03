"""Independent recomputation of the pinned graph hash of docs/graph-hash.md (stdlib only).

Prints the SHA-256 of the example graph: input x [1,2]; params w [3,2] (trainable), b [3] (buffer);
linear(x, w, b); leaky_relu (alpha 0.01); output node 4."""
import hashlib, struct
def u64(x): return struct.pack('<Q', x)
def i64(x): return struct.pack('<q', x)
def s(t): b=t.encode(); return u64(len(b))+b
def f64(x): return struct.pack('<d', x)
nodes = [
 ('input', [], [1,2], b'', 'x', -1),
 ('param', [], [3,2], b'', 'w', 0),
 ('param', [], [3], b'', 'b', 1),
 ('linear', [0,1,2], [1,3], b'', None, -1),
 ('leaky_relu', [3], [1,3], f64(0.01), None, -1),
]
e = s('torchlean.graph.v1') + u64(len(nodes))
for op, par, sh, attrs, name, pk in nodes:
    e += s(op) + u64(len(par)) + b''.join(i64(p) for p in par) + u64(len(sh)) + b''.join(i64(d) for d in sh) + attrs
    e += (u64(1)+s(name)) if name else u64(0)
    e += i64(pk)
e += u64(1) + i64(0) + u64(1) + i64(4)
for v in [1,-2,0.5,0,-0.0,3, 0.25,-1,1e-45]:
    e += struct.pack('<f', v)
print(hashlib.sha256(e).hexdigest())
