#version 130
// Show the accumulated linear RGB image (clipped to [0, 1], as the torch renderer's PNG export does).
uniform sampler2D u_image;
varying vec2 v_uv;

void main()
{
    gl_FragColor = vec4(clamp(texture2D(u_image, v_uv).rgb, 0.0, 1.0), 1.0);
}
