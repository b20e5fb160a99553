// Counter-based random numbers, bit-identical to renderer/sampling.py (hash_uniform).
//
// A uniform value is a hash of (seed, stream, keys...). Using the very same integer hash as the torch
// tracer means a GL frame draws the same jitters as the torch frame with the same index, so the two
// renderers agree sample by sample, not only in expectation.

const uint STREAM_JITTER_X = 1u;
const uint STREAM_JITTER_Y = 2u;
const uint STREAM_START = 3u;
const uint STREAM_SHADOW = 4u;

// "lowbias32" integer finalizer (Chris Wellons), as sampling._mix.
uint pt_mix(uint x)
{
    x = (x ^ (x >> 16u)) * 0x7FEB352Du;
    x = (x ^ (x >> 15u)) * 0x846CA68Bu;
    return x ^ (x >> 16u);
}

uint pt_hash_base(uint seed, uint stream)
{
    return pt_mix(seed * 0x9E3779B9u + stream * 0x85EBCA6Bu);
}

// 24 random bits to a float in [0, 1), exactly as the torch code does it.
float pt_to_unit(uint h)
{
    return float(h >> 8u) * (1.0 / 16777216.0);
}

float pt_uniform2(uint seed, uint stream, uint k1, uint k2)
{
    uint h = pt_hash_base(seed, stream);
    h = pt_mix(h ^ k1);
    h = pt_mix(h ^ k2);
    return pt_to_unit(h);
}

float pt_uniform3(uint seed, uint stream, uint k1, uint k2, uint k3)
{
    uint h = pt_hash_base(seed, stream);
    h = pt_mix(h ^ k1);
    h = pt_mix(h ^ k2);
    h = pt_mix(h ^ k3);
    return pt_to_unit(h);
}
