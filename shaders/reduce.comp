// Second stage of every reduction: column c of out is the sum over the
// rows of partial[rows][width], in row order (deterministic).
#extension GL_ARB_gpu_shader_fp64 : enable

layout(local_size_x = 64) in;

layout(std430, binding = BIND_PARTIAL) readonly buffer Partial { double partial[]; };
layout(std430, binding = BIND_RESULT) writeonly buffer Out { double result[]; };

uniform uint rows;
uniform uint width;

void main() {
	uint c = gl_GlobalInvocationID.x;
	if (c >= width) {
		return;
	}
	double s = 0.0LF;
	for (uint r = 0u; r < rows; r++) {
		s += partial[r * width + c];
	}
	result[c] = s;
}
