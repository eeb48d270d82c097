//go:build !amd64

package index

func dot(a, b []float32) float32  { return dotGo(a, b) }
func l2sq(a, b []float32) float32 { return l2sqGo(a, b) }

func distMany(q []float32, vecs []*float32, out []float32, ip bool) {
	distManyGo(q, vecs, out, ip)
}

func distBatch4(q []float32, d int, x []float32, nx int, bias []float32, bw, scale float32, out []float32, ostride int) {
	distBatch4Go(q, d, x, nx, bias, bw, scale, out, ostride)
}

// kernelName reports which distance kernel is in use (for benchmarks).
func kernelName() string { return "go" }
