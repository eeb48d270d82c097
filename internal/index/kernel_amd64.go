package index

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels; a variable so tests can compare both
// paths on the same machine.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func l2sqAVX2(a, b *float32, n int) float32

// dotBatch4AVX2 requires d%8 == 0 and nx even.
//
//go:noescape
func dotBatch4AVX2(q *float32, d int, x *float32, nx int, out *float32)

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

// dotBatch4 computes out[j*4+i] = q_i · x_j (see dotBatch4Go). The assembly
// handles pairs of base vectors with eight accumulators (4 queries × 2
// vectors) so each loaded chunk of a base vector feeds four FMAs.
func dotBatch4(q []float32, d int, x []float32, nx int, out []float32) {
	if !useAVX2 || d%8 != 0 || nx < 2 {
		dotBatch4Go(q, d, x, nx, out)
		return
	}
	_ = q[4*d-1]
	_ = x[nx*d-1]
	_ = out[nx*4-1]
	even := nx &^ 1
	dotBatch4AVX2(&q[0], d, &x[0], even, &out[0])
	if even < nx {
		dotBatch4Go(q, d, x[even*d:], 1, out[even*4:])
	}
}

func kernelName() string {
	if useAVX2 {
		return "avx2+fma"
	}
	return "go"
}
