// A restoration's levels, coarse to fine, on the device: package gpu's
// Restorer.Coarser and StartFrom. CPU twins: kernels.Restoration.Coarse
// and kernels.Prolong with Restoration.Initial's projection; their loops
// are the specification, float32 as here.
//
//   PASS_MEAN     coarse sample (x, y) of U_OUT (cw×ch) the mean of the
//                 2×2 block of U_IN (iw×ih) at (2x, 2y), the last row and
//                 column repeated where the fine size is odd;
//   PASS_PAIRS    coarse pair weight (x, y) of U_OUT the mean of the fine
//                 pair weights of U_IN that cross from block (x, y) to the
//                 next along (ax, ay): (1, 0) right, (0, 1) below; 0 where
//                 no block follows;
//   PASS_PROLONG  fine sample (x, y) of U_OUT (iw×ih) bilinear in U_IN
//                 (cw×ch), sample centres aligned, then projected onto
//                 [LO, HI].

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = BIND_IN) readonly buffer In { float src[]; };
layout(std430, binding = BIND_OUT) writeonly buffer Out { float dst[]; };
layout(std430, binding = BIND_LO) readonly buffer Lo { float lo[]; };
layout(std430, binding = BIND_HI) readonly buffer Hi { float hi[]; };

uniform uint iw, ih, cw, ch; // the fine and the coarse size
uniform uint ax, ay;         // PASS_PAIRS' direction
uniform float sx, sy;        // PASS_PROLONG's scales, cw/iw and ch/ih as the host rounds them

#if defined(PASS_MEAN)
void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= cw || y >= ch) {
		return;
	}
	uint fx0 = 2u * x, fx1 = min(2u * x + 1u, iw - 1u);
	uint fy0 = 2u * y, fy1 = min(2u * y + 1u, ih - 1u);
	// summed in the twin's order: ((a + b) + c) + d
	float s = src[fy0 * iw + fx0] + src[fy0 * iw + fx1];
	s = s + src[fy1 * iw + fx0];
	s = s + src[fy1 * iw + fx1];
	dst[y * cw + x] = s / 4.0;
}
#endif

#if defined(PASS_PAIRS)
void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= cw || y >= ch) {
		return;
	}
	uint ex = 2u * x + ax, ey = 2u * y + ay;
	float s = 0.0;
	float n = 0.0;
	if (ex + ax < iw && ey + ay < ih) {
		for (uint t = 0u; t < 2u; t++) {
			uint fx = ex + (1u - ax) * t, fy = ey + (1u - ay) * t;
			if (fx < iw && fy < ih) {
				s = s + src[fy * iw + fx];
				n = n + 1.0;
			}
		}
		s = s / n;
	}
	dst[y * cw + x] = s;
}
#endif

#if defined(PASS_PROLONG)
void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= iw || y >= ih) {
		return;
	}
	float fy = max((float(y) + 0.5) * sy - 0.5, 0.0);
	uint iy = min(uint(fy), ch - 1u);
	float ty = fy - float(iy);
	uint iy1 = min(iy + 1u, ch - 1u);
	float fx = max((float(x) + 0.5) * sx - 0.5, 0.0);
	uint ix = min(uint(fx), cw - 1u);
	float tx = fx - float(ix);
	uint ix1 = min(ix + 1u, cw - 1u);
	float a = src[iy * cw + ix] + tx * (src[iy * cw + ix1] - src[iy * cw + ix]);
	float b = src[iy1 * cw + ix] + tx * (src[iy1 * cw + ix1] - src[iy1 * cw + ix]);
	uint i = y * iw + x;
	dst[i] = min(max(a + ty * (b - a), lo[i]), hi[i]);
}
#endif
