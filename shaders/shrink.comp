// The block-sparsity prior of a dequantization on the device: package
// gpu's Restorer.Shrink. CPU twins: kernels.ShrinkBounds, ToOpponent,
// ShrinkDCT and ShrinkPass; their loops are the specification, float32 as
// here.
//
//   PASS_BOUNDS  per sample of one plane: A = max(lo, u − reach), B =
//                min(hi, u + reach), both u where lo ≤ 0 or hi ≥ 1;
//   PASS_MIX     per sample: OUT = mx·P0 + my·P1 + mz·P2, one row of the
//                opponent transform (or of its transpose), then clamped
//                to [A, B] where CLAMP is set (the pass's last step);
//   PASS_BLOCK   one invocation per block of one phase class (blocks at
//                origins stride−8+k·stride, k ≡ (px, py) mod 8/stride,
//                which do not overlap): the block of IN (coordinates
//                clamped) transformed, its AC coefficients under tau
//                zeroed, transformed back and added to ACC weighted
//                1/kept (written, not added, in the first class), the
//                weight stored in WTS;
//   PASS_DIVIDE  per sample: ACC over the sum of its blocks' weights.

#if defined(PASS_BLOCK)
layout(local_size_x = 8, local_size_y = 8) in;
#else
layout(local_size_x = 16, local_size_y = 16) in;
#endif

uniform uint iw, ih;

#if defined(PASS_BOUNDS)
layout(std430, binding = BIND_IN) readonly buffer U { float u[]; };
layout(std430, binding = BIND_LO) readonly buffer Lo { float lo[]; };
layout(std430, binding = BIND_HI) readonly buffer Hi { float hi[]; };
layout(std430, binding = BIND_OUT) writeonly buffer A { float a[]; };
layout(std430, binding = BIND_AUX) writeonly buffer B { float b[]; };
uniform float reach;

void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= iw || y >= ih) {
		return;
	}
	uint i = y * iw + x;
	float v = u[i];
	if (lo[i] <= 0.0 || hi[i] >= 1.0) {
		a[i] = v;
		b[i] = v;
	} else {
		a[i] = max(lo[i], v - reach);
		b[i] = min(hi[i], v + reach);
	}
}
#endif

#if defined(PASS_MIX)
layout(std430, binding = BIND_IN) readonly buffer P0 { float p0[]; };
layout(std430, binding = BIND_AUX) readonly buffer P1 { float p1[]; };
layout(std430, binding = BIND_TAPS) readonly buffer P2 { float p2[]; };
layout(std430, binding = BIND_OUT) writeonly buffer Out { float dst[]; };
#if defined(CLAMP)
layout(std430, binding = BIND_LO) readonly buffer A { float a[]; };
layout(std430, binding = BIND_HI) readonly buffer B { float b[]; };
#endif
uniform float mx, my, mz;

void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= iw || y >= ih) {
		return;
	}
	uint i = y * iw + x;
	// the twin's order: (mx·p0 + my·p1) + mz·p2
	float v = mx * p0[i] + my * p1[i];
	v = v + mz * p2[i];
#if defined(CLAMP)
	v = min(b[i], max(a[i], v));
#endif
	dst[i] = v;
}
#endif

#if defined(PASS_BLOCK) || defined(PASS_DIVIDE)
// the DCT's constants: cos(kπ/16)/2 and 1/√8, as kernels' fdct8
const float DC = 0.35355339059327379;
const float C1 = 0.49039264020161522;
const float C2 = 0.46193976625564337;
const float C3 = 0.41573480615127262;
const float C4 = 0.35355339059327379;
const float C5 = 0.27778511650980114;
const float C6 = 0.19134171618254492;
const float C7 = 0.097545161008064152;

uniform uint stride;  // of the block origins
uniform uint nbx, nby; // origins along x and y
#endif

#if defined(PASS_BLOCK)
layout(std430, binding = BIND_IN) readonly buffer In { float src[]; };
layout(std430, binding = BIND_OUT) buffer Acc { float acc[]; };
layout(std430, binding = BIND_AUX) writeonly buffer Wts { float wts[]; };
uniform uint px, py;   // the phase class
uniform float tau;
uniform uint first;    // 1 in the first class: write, not add

float blk[64];

void fdct8(uint at, uint step) {
	float x0 = blk[at], x1 = blk[at + step], x2 = blk[at + 2u * step], x3 = blk[at + 3u * step];
	float x4 = blk[at + 4u * step], x5 = blk[at + 5u * step], x6 = blk[at + 6u * step], x7 = blk[at + 7u * step];
	float s0 = x0 + x7, s1 = x1 + x6, s2 = x2 + x5, s3 = x3 + x4;
	float d0 = x0 - x7, d1 = x1 - x6, d2 = x2 - x5, d3 = x3 - x4;
	blk[at] = DC * (((s0 + s1) + s2) + s3);
	blk[at + 4u * step] = C4 * (((s0 - s1) - s2) + s3);
	blk[at + 2u * step] = C2 * (s0 - s3) + C6 * (s1 - s2);
	blk[at + 6u * step] = C6 * (s0 - s3) - C2 * (s1 - s2);
	blk[at + step] = ((C1 * d0 + C3 * d1) + C5 * d2) + C7 * d3;
	blk[at + 3u * step] = ((C3 * d0 - C7 * d1) - C1 * d2) - C5 * d3;
	blk[at + 5u * step] = ((C5 * d0 - C1 * d1) + C7 * d2) + C3 * d3;
	blk[at + 7u * step] = ((C7 * d0 - C5 * d1) + C3 * d2) - C1 * d3;
}

void idct8(uint at, uint step) {
	float x0 = blk[at], x1 = blk[at + step], x2 = blk[at + 2u * step], x3 = blk[at + 3u * step];
	float x4 = blk[at + 4u * step], x5 = blk[at + 5u * step], x6 = blk[at + 6u * step], x7 = blk[at + 7u * step];
	float a = DC * x0, b4 = C4 * x4;
	float e0 = ((a + b4) + C2 * x2) + C6 * x6;
	float e1 = ((a - b4) + C6 * x2) - C2 * x6;
	float e2 = ((a - b4) - C6 * x2) + C2 * x6;
	float e3 = ((a + b4) - C2 * x2) - C6 * x6;
	float o0 = ((C1 * x1 + C3 * x3) + C5 * x5) + C7 * x7;
	float o1 = ((C3 * x1 - C7 * x3) - C1 * x5) - C5 * x7;
	float o2 = ((C5 * x1 - C1 * x3) + C7 * x5) + C3 * x7;
	float o3 = ((C7 * x1 - C5 * x3) + C3 * x5) - C1 * x7;
	blk[at] = e0 + o0;
	blk[at + 7u * step] = e0 - o0;
	blk[at + step] = e1 + o1;
	blk[at + 6u * step] = e1 - o1;
	blk[at + 2u * step] = e2 + o2;
	blk[at + 5u * step] = e2 - o2;
	blk[at + 3u * step] = e3 + o3;
	blk[at + 4u * step] = e3 - o3;
}

void main() {
	uint phases = 8u / stride;
	uint kx = px + phases * gl_GlobalInvocationID.x, ky = py + phases * gl_GlobalInvocationID.y;
	if (kx >= nbx || ky >= nby) {
		return;
	}
	int ox = int(stride) - 8 + int(kx * stride), oy = int(stride) - 8 + int(ky * stride);
	float sum = 0.0, sq = 0.0;
	for (int i = 0; i < 8; i++) {
		int row = clamp(oy + i, 0, int(ih) - 1) * int(iw);
		for (int j = 0; j < 8; j++) {
			float v = src[row + clamp(ox + j, 0, int(iw) - 1)];
			blk[i * 8 + j] = v;
			sum = sum + v;
			sq = sq + v * v;
		}
	}
	float m = sum / 64.0;
	uint kept = 1u;
	if (sq - 64.0 * m * m < tau * tau) {
		// by Parseval no AC coefficient is over tau: the block is its mean
		for (int k = 0; k < 64; k++) {
			blk[k] = m;
		}
	} else {
		// rows, the transposed columns (here: columns in place), the
		// threshold, and back; the twin's transposes only move samples
		for (uint i = 0u; i < 8u; i++) {
			fdct8(i * 8u, 1u);
		}
		for (uint j = 0u; j < 8u; j++) {
			fdct8(j, 8u);
		}
		kept = 0u;
		for (uint k = 0u; k < 64u; k++) {
			float c = blk[k];
			if (k == 0u || c >= tau || c <= -tau) {
				kept++;
			} else {
				blk[k] = 0.0;
			}
		}
		for (uint j = 0u; j < 8u; j++) {
			idct8(j, 8u);
		}
		for (uint i = 0u; i < 8u; i++) {
			idct8(i * 8u, 1u);
		}
	}
	float wt = 1.0 / float(kept);
	wts[ky * nbx + kx] = wt;
	for (int i = max(0, -oy); i < min(8, int(ih) - oy); i++) {
		for (int j = max(0, -ox); j < min(8, int(iw) - ox); j++) {
			uint at = uint((oy + i) * int(iw) + ox + j);
			float v = wt * blk[i * 8 + j];
			if (first == 1u) {
				acc[at] = v;
			} else {
				acc[at] = acc[at] + v;
			}
		}
	}
}
#endif

#if defined(PASS_DIVIDE)
layout(std430, binding = BIND_OUT) buffer Acc { float acc[]; };
layout(std430, binding = BIND_AUX) readonly buffer Wts { float wts[]; };

void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= iw || y >= ih) {
		return;
	}
	// the blocks k with origin stride−8+k·stride in [x−7, x], weights
	// summed down the rows first, as the twin
	uint kx0 = (x + stride) / stride - 1u, kx1 = min((x + 8u) / stride - 1u, nbx - 1u);
	uint ky0 = (y + stride) / stride - 1u, ky1 = min((y + 8u) / stride - 1u, nby - 1u);
	float den = 0.0;
	for (uint kx = kx0; kx <= kx1; kx++) {
		float s = 0.0;
		for (uint ky = ky0; ky <= ky1; ky++) {
			s = s + wts[ky * nbx + kx];
		}
		den = den + s;
	}
	uint i = y * iw + x;
	acc[i] = acc[i] / den;
}
#endif
