// The in-cell regression of a dequantization on the device: package
// gpu's Restorer.Refine. CPU twin: kernels.RefineApply with its class;
// its loops are the specification, float32 as here. One invocation per
// sample of one plane: the texture class from the cells' whole-cell
// indices (exact on every device), then the class's weights over the
// 5×5 neighbourhood's offsets from the centre's cell middle, the result
// clamped to the cell. Samples in the first or the last cell, and those
// of the flat classes, keep their value.

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = BIND_IN) readonly buffer U { float u[]; };
layout(std430, binding = BIND_LO) readonly buffer Lo { float lo[]; };
layout(std430, binding = BIND_HI) readonly buffer Hi { float hi[]; };
layout(std430, binding = BIND_OUT) writeonly buffer Out { float dst[]; };
// the weights, RefineTaps a class (kernels.RefineWeights)
layout(std430, binding = BIND_AUX) readonly buffer W { float wt[]; };

uniform uint iw, ih;
uniform float inv; // 1 / the cell's width

// kernels' RefineRadius, RefineTaps, RefineFrom and refineLimits
const int R = 2;
const int TAPS = 26;
const int FROM = 2;
const int LIMITS[4] = int[4](2, 7, 14, 23);

void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	if (x >= iw || y >= ih) {
		return;
	}
	uint i = y * iw + x;
	float l = lo[i], h = hi[i];
	if (l <= 0.0 || h >= 1.0) {
		dst[i] = u[i];
		return;
	}
	float m = 0.5 * (l + h);
	// the class: kernels' refineLevels and refineClass
	int li = int(floor(m * inv + 0.25));
	int s = 0;
	for (int dy = -R; dy <= R; dy++) {
		uint yy = uint(clamp(int(y) + dy, 0, int(ih) - 1));
		for (int dx = -R; dx <= R; dx++) {
			uint j = yy * iw + uint(clamp(int(x) + dx, 0, int(iw) - 1));
			s += abs(int(floor(0.5 * (lo[j] + hi[j]) * inv + 0.25)) - li);
		}
	}
	int k = 0;
	while (k < 4 && s > LIMITS[k]) {
		k++;
	}
	if (k < FROM) {
		dst[i] = u[i];
		return;
	}
	float v = 0.0;
	int t = k * TAPS;
	for (int dy = -R; dy <= R; dy++) {
		uint yy = uint(clamp(int(y) + dy, 0, int(ih) - 1));
		for (int dx = -R; dx <= R; dx++) {
			uint j = yy * iw + uint(clamp(int(x) + dx, 0, int(iw) - 1));
			v += wt[t] * ((u[j] - m) * inv);
			t++;
		}
	}
	v += wt[t];
	dst[i] = min(max(m + v / inv, l), h);
}
