// Joint (x, t) histogram of 8-bit pairs, the CPU twin of
// kernels.Histogram.Add8. The 65536 bins do not fit in shared memory, so
// workgroup row y counts only the bins of tile y (TILE consecutive bins, 32
// original levels) in shared memory, where the atomics are cheap, and then
// adds its non-zero bins to the global table: photos hit few bins, and
// global atomics on them from every pixel would serialize.
layout(local_size_x = 256) in;

layout(std430, binding = BIND_DATA0) readonly buffer Pairs { uint pairs[]; };
layout(std430, binding = BIND_DATA1) buffer Counts { uint counts[]; };

uniform uint n; // pairs

shared uint bins[TILE];

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint tile = gl_WorkGroupID.y;
	for (uint i = lid; i < uint(TILE); i += 256u) {
		bins[i] = 0u;
	}
	barrier();
	uint stride = gl_NumWorkGroups.x * 256u;
	// Each invocation reads whole words: two pairs.
	for (uint w = gl_WorkGroupID.x * 256u + lid; 2u * w < n; w += stride) {
		uint word = pairs[w];
		for (uint h = 0u; h < 2u; h++) {
			if (2u * w + h >= n) {
				break;
			}
			uint key = ((word >> (16u * h)) & 255u) << 8 | ((word >> (16u * h + 8u)) & 255u);
			if (key / uint(TILE) == tile) {
				atomicAdd(bins[key % uint(TILE)], 1u);
			}
		}
	}
	barrier();
	for (uint i = lid; i < uint(TILE); i += 256u) {
		if (bins[i] != 0u) {
			atomicAdd(counts[tile * uint(TILE) + i], bins[i]);
		}
	}
}
