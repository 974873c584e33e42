#ifndef WSGATE_CZLIB_SHIM_H
#define WSGATE_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 and inflateInit2 are macros (they pass ZLIB_VERSION and sizeof(z_stream) to the
// real functions), which Swift cannot call; these wrappers can be.

/// A raw DEFLATE compressor (negative window bits: no zlib header or trailer, RFC 7692 §7.2.1).
static inline int wsgate_deflate_init_raw(z_streamp stream, int level, int window_bits, int mem_level) {
    return deflateInit2(stream, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY);
}

/// A raw DEFLATE decompressor.
static inline int wsgate_inflate_init_raw(z_streamp stream, int window_bits) {
    return inflateInit2(stream, -window_bits);
}

#endif
