// Volume, transfer function and macro-cell lookups shared by primary and secondary rays.
//
// World: the unit cube [0, 1]^3, coordinates (x, y, z). Grids are node-centred: node i of n sits at i / (n - 1),
// so in a GL texture of n texels coordinate c has texcoord c * (n - 1) / n + 0.5 / n; linear filtering then
// equals trilinear interpolation with align_corners=True (renderer.fields.GridField).

uniform sampler3D u_volume;       // normalized values in [0, 1], (Z, Y, X) array -> texture (X, Y, Z)
uniform vec3 u_volume_shape;      // (X, Y, Z) texels
uniform sampler2D u_tf;           // 1 x n RGBA: colour + opacity per reference step
uniform float u_tf_size;          // n
uniform float u_ref_step;         // transfer function's reference step (unit-cube lengths)
uniform sampler3D u_cells;        // macro cells: > 0 where a sample may be visible (nearest, texelFetch)
uniform vec3 u_cell_scale;        // coordinate * scale = fractional cell index, per (x, y, z)
uniform vec3 u_cell_max;          // last cell index per (x, y, z)
uniform vec3 u_bounds_lo;         // box around all occupied cells
uniform vec3 u_bounds_hi;
uniform float u_termination;      // rays stop when their transmittance falls below this

vec3 pt_texcoord(vec3 p, vec3 shape)
{
    return p * (shape - 1.0) / shape + 0.5 / shape;
}

float pt_value(vec3 p)
{
    return clamp(texture(u_volume, pt_texcoord(p, u_volume_shape)).r, 0.0, 1.0);
}

// Colour and opacity per reference step of value v (linear interpolation of the table).
vec4 pt_classify(float v)
{
    float x = v * (u_tf_size - 1.0) / u_tf_size + 0.5 / u_tf_size;
    return texture(u_tf, vec2(x, 0.5));
}

// Opacity correction for a step of length `step`.
float pt_opacity(float a, float step)
{
    return 1.0 - pow(1.0 - a, step / u_ref_step);
}

// Slab test as renderer.tracer.intersect_box: (t_near clamped to >= 0, t_far); hit where t_far > t_near.
// An axis-parallel ray (a zero component) lies inside that slab for all t or for none.
const float PT_INF = 1e30;

vec2 pt_intersect_box(vec3 o, vec3 d, vec3 lo, vec3 hi)
{
    bvec3 zero = equal(d, vec3(0.0));
    vec3 inv = 1.0 / mix(d, vec3(1.0), zero);
    vec3 ta = (lo - o) * inv;
    vec3 tb = (hi - o) * inv;
    vec3 inside = step(lo, o) * step(o, hi);  // 1 where lo <= o <= hi
    vec3 zero_near = mix(vec3(PT_INF), vec3(-PT_INF), inside);
    vec3 near = mix(min(ta, tb), zero_near, zero);
    vec3 far = mix(max(ta, tb), -zero_near, zero);
    return vec2(max(max(max(near.x, near.y), near.z), 0.0), min(min(far.x, far.y), far.z));
}

ivec3 pt_cell(vec3 p)
{
    return ivec3(min(max(floor(p * u_cell_scale), 0.0), u_cell_max));
}

bool pt_cell_occupied(ivec3 c)
{
    return texelFetch(u_cells, c, 0).r > 0.0;
}

// Distance along o + t d at which the ray leaves macro cell c.
float pt_cell_exit(vec3 o, vec3 d, ivec3 c)
{
    vec3 lo = vec3(c) / u_cell_scale;
    vec3 hi = (vec3(c) + 1.0) / u_cell_scale;
    bvec3 zero = equal(d, vec3(0.0));
    vec3 inv = 1.0 / mix(d, vec3(1.0), zero);
    vec3 t = mix(max((lo - o) * inv, (hi - o) * inv), vec3(PT_INF), zero);
    return min(min(t.x, t.y), t.z);
}

// First lattice index k >= k_min with base + (k + u) * step >= t (used to hop over empty cells and to clip to
// the occupied box; samples are never moved, only skipped, so skipping is exact).
float pt_first_index(float t, float base, float u, float step, float k_min)
{
    return max(k_min, ceil((t - base) / step - u));
}

// Transmittance from p toward direction l (unit) to the cube's boundary, sampled at t = (k + u) * step,
// k >= 0, as renderer.tracer.Marcher.transmittance (the secondary ray of shadow mode 'rays').
float pt_transmittance(vec3 p, vec3 l, float u, float step)
{
    float t1 = pt_intersect_box(p, l, vec3(0.0), vec3(1.0)).y;
    vec2 b = pt_intersect_box(p, l, u_bounds_lo, u_bounds_hi);
    t1 = min(t1, b.y);
    float k = pt_first_index(b.x, 0.0, u, step, 0.0);
    float T = 1.0;
    for (int i = 0; i < 65536; ++i) {
        float t = (k + u) * step;
        if (t >= t1 || T < u_termination) break;
        vec3 q = clamp(p + l * t, 0.0, 1.0);
        ivec3 c = pt_cell(q);
        if (!pt_cell_occupied(c)) {
            k = pt_first_index(pt_cell_exit(p, l, c), 0.0, u, step, k + 1.0);
            continue;
        }
        T *= 1.0 - pt_opacity(pt_classify(pt_value(q)).a, step);
        k += 1.0;
    }
    return T;
}
