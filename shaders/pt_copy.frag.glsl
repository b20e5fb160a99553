#version 130
// Copy the running mean unchanged (pixels outside the band a progressive frame traces).
uniform sampler2D u_prev;

void main()
{
    gl_FragColor = texelFetch(u_prev, ivec2(gl_FragCoord.xy), 0);
}
