#include "textflag.h"

// func dotAVX2(a, b *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ CX, $32
	JL   dot8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  dot32

dot8:
	CMPQ CX, $8
	JL   dotreduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  dot8

dotreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

dottail:
	TESTQ CX, CX
	JE    dotdone
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  dottail

dotdone:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func l2sqAVX2(a, b *float32, n int) float32
TEXT ·l2sqAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

l2x32:
	CMPQ CX, $32
	JL   l2x8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VSUBPS  (DI), Y4, Y4
	VSUBPS  32(DI), Y5, Y5
	VSUBPS  64(DI), Y6, Y6
	VSUBPS  96(DI), Y7, Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  l2x32

l2x8:
	CMPQ CX, $8
	JL   l2reduce
	VMOVUPS (SI), Y4
	VSUBPS  (DI), Y4, Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  l2x8

l2reduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

l2tail:
	TESTQ CX, CX
	JE    l2done
	VMOVSS (SI), X1
	VSUBSS (DI), X1, X1
	VFMADD231SS X1, X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  l2tail

l2done:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func distBatch4AVX2(q *float32, d int, x *float32, nx int, bias *float32, bw float32, scale float32, out *float32, ostride int)
// Four queries (rows of q, d floats apart) against nx base vectors (nx even),
// two base vectors per iteration: eight accumulators, one per (query,
// vector) pair, so each loaded chunk of a base vector feeds four FMAs.
// out[i*ostride+j] = bw*bias[j] + scale*(q_i·x_j).
TEXT ·distBatch4AVX2(SB), NOSPLIT, $0-64
	MOVQ q+0(FP), R10
	MOVQ d+8(FP), R8
	SHLQ $2, R8
	MOVQ x+16(FP), DI
	MOVQ nx+24(FP), CX
	MOVQ bias+32(FP), BX
	VBROADCASTSS bw+40(FP), Y15
	VBROADCASTSS scale+44(FP), Y14
	MOVQ out+48(FP), DX
	MOVQ ostride+56(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), SI
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13

bpair:
	CMPQ CX, $2
	JL   bdone
	LEAQ (DI)(R8*1), R14
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX

binner:
	VMOVUPS (DI)(AX*1), Y8
	VMOVUPS (R14)(AX*1), Y9
	VMOVUPS (R10)(AX*1), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y4
	VMOVUPS (R11)(AX*1), Y11
	VFMADD231PS Y8, Y11, Y1
	VFMADD231PS Y9, Y11, Y5
	VMOVUPS (R12)(AX*1), Y12
	VFMADD231PS Y8, Y12, Y2
	VFMADD231PS Y9, Y12, Y6
	VMOVUPS (R13)(AX*1), Y13
	VFMADD231PS Y8, Y13, Y3
	VFMADD231PS Y9, Y13, Y7
	ADDQ $32, AX
	CMPQ AX, R8
	JL   binner

	// Horizontal sums: per 128-bit lane, [acc0 acc1 acc2 acc3] partials.
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	// Fold the lanes: Y1 = [x0: q0..q3 | x1: q0..q3].
	VPERM2F128 $0x20, Y4, Y0, Y1
	VPERM2F128 $0x31, Y4, Y0, Y2
	VADDPS     Y2, Y1, Y1
	// Y2 = [bias0 ×4 | bias1 ×4] · bw, then + scale·dots.
	VBROADCASTSS (BX), X2
	VBROADCASTSS 4(BX), X3
	VINSERTF128  $1, X3, Y2, Y2
	VMULPS       Y15, Y2, Y2
	VFMADD231PS  Y14, Y1, Y2
	// Transpose to query rows: X3 = [q0x0 q0x1 q1x0 q1x1], X4 = [q2.. q3..].
	VEXTRACTF128 $1, Y2, X5
	VUNPCKLPS    X5, X2, X3
	VUNPCKHPS    X5, X2, X4
	VMOVLPS      X3, (DX)
	VMOVHPS      X3, (DX)(R9*1)
	VMOVLPS      X4, (DX)(R9*2)
	VMOVHPS      X4, (DX)(SI*1)
	ADDQ $8, DX
	ADDQ $8, BX
	LEAQ (R14)(R8*1), DI
	SUBQ $2, CX
	JMP  bpair

bdone:
	VZEROUPPER
	RET

// Prefetch the first 512 bytes (eight cache lines; all of a 128-d vector)
// of the vector whose pointer is at off(BX). The hardware stream prefetcher
// follows longer vectors once it sees them being read.
#define PREFETCH_VEC(off) \
	MOVQ off(BX), R10; \
	PREFETCHT0 (R10); \
	PREFETCHT0 64(R10); \
	PREFETCHT0 128(R10); \
	PREFETCHT0 192(R10); \
	PREFETCHT0 256(R10); \
	PREFETCHT0 320(R10); \
	PREFETCHT0 384(R10); \
	PREFETCHT0 448(R10)

// func distManyAVX2(q *float32, vecs **float32, n int, dim int, out *float32, ip bool)
// out[i] = l2sq(q, vecs[i]) or, if ip, -dot(q, vecs[i]). Graph search reads
// vectors in random order, so its cost is memory latency: vector i+2 is
// prefetched while vector i is computed.
TEXT ·distManyAVX2(SB), NOSPLIT, $0-41
	MOVQ q+0(FP), R12
	MOVQ vecs+8(FP), BX
	MOVQ n+16(FP), R9
	MOVQ dim+24(FP), R8
	MOVQ out+32(FP), DX
	MOVBQZX ip+40(FP), R13
	TESTQ R9, R9
	JE   mdone
	PREFETCH_VEC(0)
	CMPQ R9, $1
	JE   mloop
	PREFETCH_VEC(8)

mloop:
	CMPQ R9, $3
	JL   mnopf
	PREFETCH_VEC(16)

mnopf:
	MOVQ (BX), DI
	MOVQ R12, SI
	MOVQ R8, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ R13, R13
	JNE  mip16

ml16:
	CMPQ CX, $16
	JL   ml8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VSUBPS  (DI), Y4, Y4
	VSUBPS  32(DI), Y5, Y5
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  ml16

ml8:
	CMPQ CX, $8
	JL   mlred
	VMOVUPS (SI), Y4
	VSUBPS  (DI), Y4, Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX

mlred:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

mltail:
	TESTQ CX, CX
	JE    mstore
	VMOVSS (SI), X1
	VSUBSS (DI), X1, X1
	VFMADD231SS X1, X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  mltail

mip16:
	CMPQ CX, $16
	JL   mip8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  mip16

mip8:
	CMPQ CX, $8
	JL   mipred
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX

mipred:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

miptail:
	TESTQ CX, CX
	JE    mipneg
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  miptail

mipneg:
	// -x: flip the sign bit.
	MOVL   $0x80000000, AX
	VMOVD  AX, X1
	VXORPS X1, X0, X0

mstore:
	VMOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ $8, BX
	DECQ R9
	JNE  mloop

mdone:
	VZEROUPPER
	RET
