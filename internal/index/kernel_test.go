package index

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randVec(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

func closeEnough(a, b float32) bool {
	return math.Abs(float64(a-b)) <= 1e-4*math.Max(1, math.Abs(float64(b)))
}

// TestKernelsMatchPureGo checks the dispatched (assembly on amd64) kernels
// against the pure-Go ones for every length around the unroll boundaries.
func TestKernelsMatchPureGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for d := 0; d <= 130; d++ {
		a, b := randVec(r, d), randVec(r, d+3) // b longer: kernels use len(a)
		if got, want := dot(a, b), dotGo(a, b); !closeEnough(got, want) {
			t.Fatalf("dot d=%d: %v want %v", d, got, want)
		}
		if got, want := l2sq(a, b), l2sqGo(a, b); !closeEnough(got, want) {
			t.Fatalf("l2sq d=%d: %v want %v", d, got, want)
		}
	}
	for _, d := range []int{8, 16, 24, 128, 784, 100, 3} {
		for _, nx := range []int{1, 2, 3, 7, 64} {
			q := randVec(r, 4*d)
			x := randVec(r, nx*d)
			bias := randVec(r, nx)
			for _, bs := range [][2]float32{{1, -2}, {0, -1}} {
				const stride = 70
				got := make([]float32, 4*stride)
				distBatch4(q, d, x, nx, bias, bs[0], bs[1], got, stride)
				for j := 0; j < nx; j++ {
					for i := 0; i < 4; i++ {
						want := bs[0]*bias[j] + bs[1]*dotGo(q[i*d:(i+1)*d], x[j*d:(j+1)*d])
						if !closeEnough(got[i*stride+j], want) {
							t.Fatalf("distBatch4 d=%d nx=%d q%d x%d: %v want %v", d, nx, i, j, got[i*stride+j], want)
						}
					}
				}
			}
		}
	}
}

func benchKernel(b *testing.B, f func(a, b []float32) float32, d int) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randVec(r, d), randVec(r, d)
	b.SetBytes(int64(8 * d))
	var s float32
	for b.Loop() {
		s += f(x, y)
	}
	_ = s
}

func BenchmarkL2Go128(b *testing.B)  { benchKernel(b, l2sqGo, 128) }
func BenchmarkL2128(b *testing.B)    { benchKernel(b, l2sq, 128) }
func BenchmarkDotGo128(b *testing.B) { benchKernel(b, dotGo, 128) }
func BenchmarkDot128(b *testing.B)   { benchKernel(b, dot, 128) }
func BenchmarkL2Go784(b *testing.B)  { benchKernel(b, l2sqGo, 784) }
func BenchmarkL2784(b *testing.B)    { benchKernel(b, l2sq, 784) }

func TestDistManyMatchesPureGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{1, 7, 8, 15, 16, 17, 100, 128, 784} {
		for _, n := range []int{0, 1, 2, 3, 5, 33} {
			q := randVec(r, d)
			vs := make([]*float32, n)
			rows := make([][]float32, n)
			for i := range vs {
				rows[i] = randVec(r, d)
				vs[i] = &rows[i][0]
			}
			for _, ip := range []bool{false, true} {
				got := make([]float32, n)
				distMany(q, vs, got, ip)
				for i := range rows {
					want := l2sqGo(q, rows[i])
					if ip {
						want = -dotGo(q, rows[i])
					}
					if !closeEnough(got[i], want) {
						t.Fatalf("distMany d=%d n=%d ip=%v i=%d: %v want %v", d, n, ip, i, got[i], want)
					}
				}
			}
		}
	}
}
