// Second stage of every reduction: column c of out is the sum over the
// rows of partial[rows][width], one workgroup a column, in a fixed order
// (deterministic): each invocation sums every LOCAL-th row, then a tree.
// A column summed by one invocation would put rows dependent adds on the
// critical path of every step.
#extension GL_ARB_gpu_shader_fp64 : enable

#define LOCAL 256u
layout(local_size_x = 256) in;

layout(std430, binding = BIND_PARTIAL) readonly buffer Partial { double partial[]; };
layout(std430, binding = BIND_RESULT) writeonly buffer Out { double result[]; };

uniform uint rows;
uniform uint width;

shared double part[LOCAL];

void main() {
	uint c = gl_WorkGroupID.x;
	uint lid = gl_LocalInvocationID.x;
	double s = 0.0LF;
	for (uint r = lid; r < rows; r += LOCAL) {
		s += partial[r * width + c];
	}
	part[lid] = s;
	barrier();
	for (uint h = LOCAL / 2u; h > 0u; h >>= 1) {
		if (lid < h) {
			part[lid] += part[lid + h];
		}
		barrier();
	}
	if (lid == 0u) {
		result[c] = part[0];
	}
}
