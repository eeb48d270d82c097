package index

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels; a variable so tests can compare both
// paths on the same machine.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func l2sqAVX2(a, b *float32, n int) float32

// distBatch4AVX2 requires d%8 == 0 and nx even.
//
//go:noescape
func distBatch4AVX2(q *float32, d int, x *float32, nx int, bias *float32, bw, scale float32, out *float32, ostride int)

//go:noescape
func distManyAVX2(q *float32, vecs **float32, n int, dim int, out *float32, ip bool)

// distMany sets out[i] to the distance (l2sq, or -dot if ip) between q and
// the len(q)-long vector at vecs[i], prefetching ahead (graph search).
func distMany(q []float32, vecs []*float32, out []float32, ip bool) {
	if !useAVX2 || len(vecs) == 0 || len(q) == 0 {
		distManyGo(q, vecs, out, ip)
		return
	}
	_ = out[len(vecs)-1]
	distManyAVX2(&q[0], &vecs[0], len(vecs), len(q), &out[0], ip)
}

func dot(a, b []float32) float32 {
	if useAVX2 && len(a) > 0 {
		_ = b[len(a)-1]
		return dotAVX2(&a[0], &b[0], len(a))
	}
	return dotGo(a, b)
}

func l2sq(a, b []float32) float32 {
	if useAVX2 && len(a) > 0 {
		_ = b[len(a)-1]
		return l2sqAVX2(&a[0], &b[0], len(a))
	}
	return l2sqGo(a, b)
}

// distBatch4 is distBatch4Go in assembly: pairs of base vectors with eight
// accumulators (4 queries × 2 vectors), results written per query row.
func distBatch4(q []float32, d int, x []float32, nx int, bias []float32, bw, scale float32, out []float32, ostride int) {
	if !useAVX2 || d%8 != 0 || nx < 2 {
		distBatch4Go(q, d, x, nx, bias, bw, scale, out, ostride)
		return
	}
	_ = q[4*d-1]
	_ = x[nx*d-1]
	_ = bias[nx-1]
	_ = out[3*ostride+nx-1]
	even := nx &^ 1
	distBatch4AVX2(&q[0], d, &x[0], even, &bias[0], bw, scale, &out[0], ostride)
	if even < nx {
		distBatch4Go(q, d, x[even*d:], 1, bias[even:], bw, scale, out[even:], ostride)
	}
}

func kernelName() string {
	if useAVX2 {
		return "avx2+fma"
	}
	return "go"
}
