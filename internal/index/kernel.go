package index

import "unsafe"

// Distance kernels. The exported behaviour of the package only depends on
// dot and l2sq; kernel_amd64.go swaps in AVX2+FMA assembly when the CPU has
// it, and the pure-Go versions below are both the fallback on other CPUs and
// the oracle the assembly is tested against.

// dotGo returns the inner product of a and b (len(b) >= len(a)).
// Unrolled by 8 with independent accumulators so the loop is not bound by
// the latency of a single floating-point add chain; the re-slicing hoists
// bounds checks out of the loop.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// l2sqGo returns the squared Euclidean distance between a and b.
func l2sqGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		d0 := aa[0] - bb[0]
		d1 := aa[1] - bb[1]
		d2 := aa[2] - bb[2]
		d3 := aa[3] - bb[3]
		d4 := aa[4] - bb[4]
		d5 := aa[5] - bb[5]
		d6 := aa[6] - bb[6]
		d7 := aa[7] - bb[7]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		s4 += d4 * d4
		s5 += d5 * d5
		s6 += d6 * d6
		s7 += d7 * d7
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// distBatch4Go sets out[i*ostride+j] = bw*bias[j] + scale*(q_i·x_j) for
// the four queries stored back to back in q (each d long) and the nx vectors
// stored back to back in x. With bias = ‖x‖², bw = 1, scale = −2 this is
// the L2 distance less ‖q‖²; with bw = 0, scale = −1 the negated inner
// product.
func distBatch4Go(q []float32, d int, x []float32, nx int, bias []float32, bw, scale float32, out []float32, ostride int) {
	for j := 0; j < nx; j++ {
		v := x[j*d : (j+1)*d]
		for i := 0; i < 4; i++ {
			out[i*ostride+j] = bw*bias[j] + scale*dot(q[i*d:(i+1)*d], v)
		}
	}
}

// distManyGo is the portable distMany.
func distManyGo(q []float32, vecs []*float32, out []float32, ip bool) {
	for i, p := range vecs {
		v := unsafe.Slice(p, len(q))
		if ip {
			out[i] = -dot(q, v)
		} else {
			out[i] = l2sq(q, v)
		}
	}
}
