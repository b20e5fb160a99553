#version 130
// One progressive frame of the volumetric path tracer (the optical model of renderer/tracer.py):
// emission-absorption marching with a jittered start, opacity correction, colour from the transfer function,
// one directional light + ambient with single scattering, shadow term per SHADOW_MODE, background compositing,
// early termination. The new frame is folded into the running mean read from u_prev.
//
// SHADOW_MODE (defined by the loader): 0 none, 1 rays (secondary ray per sample), 2 field (shadow texture).

#include "pt_random.glsl"
#include "pt_volume.glsl"

uniform sampler2D u_prev;        // running mean of the previous frames (RGBA32F, same size as the target)
uniform int u_frame;             // frame index since the last reset = random-number frame key
uniform int u_seed;
uniform vec2 u_size;             // target size in pixels (W, H)
uniform vec3 u_eye;
uniform vec3 u_right;
uniform vec3 u_up;
uniform vec3 u_forward;
uniform vec2 u_half;             // tan(fov / 2) * (aspect, 1)
uniform float u_step;            // primary step (unit-cube lengths)
uniform float u_light_step;      // secondary-ray step
uniform vec3 u_light_dir;        // unit vector toward the light
uniform float u_intensity;
uniform float u_ambient;
uniform vec3 u_background;
uniform float u_empty;           // 1: no occupied macro cell, nothing to march

#if SHADOW_MODE == 2
uniform sampler3D u_shadow;      // transmittance toward the light at grid nodes
uniform vec3 u_shadow_shape;
#endif

varying vec2 v_uv;

void main()
{
    uint seed = uint(u_seed);
    uint frame = uint(u_frame);
    // Row 0 is the top of the image, as in Camera.rays; gl_FragCoord has row 0 at the bottom.
    float col = floor(gl_FragCoord.x);
    float row = u_size.y - 1.0 - floor(gl_FragCoord.y);
    uint pix = uint(row) * uint(u_size.x) + uint(col);

    float px = col + 0.5 + (pt_uniform2(seed, STREAM_JITTER_X, frame, pix) - 0.5);
    float py = row + 0.5 + (pt_uniform2(seed, STREAM_JITTER_Y, frame, pix) - 0.5);
    float sx = (2.0 * px / u_size.x - 1.0) * u_half.x;
    float sy = (1.0 - 2.0 * py / u_size.y) * u_half.y;
    vec3 d = normalize(sx * u_right + sy * u_up + u_forward);
    vec3 o = u_eye;

    vec2 cube = pt_intersect_box(o, d, vec3(0.0), vec3(1.0));
    float base = cube.x;
    float t1 = cube.y > cube.x ? cube.y : -1.0;
    float u = pt_uniform2(seed, STREAM_START, frame, pix);

    // Clip to the occupied cells' box on the sample lattice (renderer.tracer.Marcher._clip).
    vec2 b = pt_intersect_box(o, d, u_bounds_lo, u_bounds_hi);
    float k = pt_first_index(b.x, base, u, u_step, 0.0);
    t1 = u_empty > 0.5 ? -1.0 : min(t1, b.y);

    float T = 1.0;
    vec3 C = vec3(0.0);
    for (int i = 0; i < 65536; ++i) {
        float t = base + (k + u) * u_step;
        if (t >= t1 || T < u_termination) break;
        vec3 p = clamp(o + d * t, 0.0, 1.0);
        ivec3 c = pt_cell(p);
        if (!pt_cell_occupied(c)) {
            k = pt_first_index(pt_cell_exit(o, d, c), base, u, u_step, k + 1.0);
            continue;
        }
        vec4 rgba = pt_classify(pt_value(p));
        float a = pt_opacity(rgba.a, u_step);
        if (a > 0.0) {
            float T_light = 1.0;
#if SHADOW_MODE == 1
            float us = pt_uniform3(seed, STREAM_SHADOW, frame, pix, uint(k));
            T_light = pt_transmittance(p, u_light_dir, us, u_light_step);
#elif SHADOW_MODE == 2
            T_light = clamp(texture(u_shadow, pt_texcoord(p, u_shadow_shape)).r, 0.0, 1.0);
#endif
            C += T * a * rgba.rgb * (u_ambient + u_intensity * T_light);
            T *= 1.0 - a;
        }
        k += 1.0;
    }
    vec3 color = C + T * u_background;

    // Running mean, frame by frame (PathTracer.render): mean += (x - mean) / n.
    vec3 prev = texelFetch(u_prev, ivec2(gl_FragCoord.xy), 0).rgb;
    vec3 mean = u_frame == 0 ? color : prev + (color - prev) / float(u_frame + 1);
    gl_FragColor = vec4(mean, 1.0);
}
