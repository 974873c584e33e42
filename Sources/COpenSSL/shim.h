// OpenSSL 3 for Swift: the headers, plus static inline wrappers for what OpenSSL defines as macros
// (Swift cannot call a function-like macro) and for a few calls whose C types import awkwardly.
#ifndef WSGATE_COPENSSL_SHIM_H
#define WSGATE_COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline long wsgate_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline int wsgate_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int wsgate_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline uint64_t wsgate_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t options) {
    return SSL_CTX_set_options(ctx, options);
}
static inline long wsgate_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline int wsgate_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline int wsgate_SSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add_extra_chain_cert(ctx, cert);
}
static inline long wsgate_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

// The TLS versions, the modes and options wsgate uses, as plain integers.
static const int WSGATE_TLS1_2_VERSION = TLS1_2_VERSION;
static const int WSGATE_TLS1_3_VERSION = TLS1_3_VERSION;
static const long WSGATE_SSL_MODE_RELEASE_BUFFERS = SSL_MODE_RELEASE_BUFFERS;
static const long WSGATE_SSL_MODE_ENABLE_PARTIAL_WRITE = SSL_MODE_ENABLE_PARTIAL_WRITE;
static const long WSGATE_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
static const uint64_t WSGATE_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t WSGATE_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t WSGATE_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const long WSGATE_SSL_SESS_CACHE_OFF = SSL_SESS_CACHE_OFF;
static const int WSGATE_SSL_VERIFY_PEER = SSL_VERIFY_PEER;
static const int WSGATE_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
static const int WSGATE_SSL_VERIFY_NONE = SSL_VERIFY_NONE;
static const int WSGATE_SSL_TLSEXT_ERR_OK = SSL_TLSEXT_ERR_OK;
static const int WSGATE_SSL_TLSEXT_ERR_NOACK = SSL_TLSEXT_ERR_NOACK;
static const int WSGATE_BIO_TYPE_SOURCE_SINK = BIO_TYPE_SOURCE_SINK;
static const int WSGATE_BIO_CTRL_FLUSH = BIO_CTRL_FLUSH;
static const unsigned long WSGATE_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;


#include <stdlib.h>
#include <string.h>

// A BIO over caller-owned memory, so a TLS connection is sans-I/O without BIO_s_mem's buffers:
// OpenSSL reads ciphertext straight from the bytes the caller read from its socket (`input`), and
// appends the ciphertext it produces to `output`, which the caller writes to its socket and frees
// once it is empty. An idle connection therefore holds no ciphertext buffer at all. Writes never
// block (the caller bounds how much it encrypts before `output` drains); a read with no input left
// is a retryable failure, which OpenSSL reports as SSL_ERROR_WANT_READ.
typedef struct wsgate_tls_io {
    const unsigned char *input;
    size_t input_length;
    unsigned char *output;
    size_t output_length;
    size_t output_capacity;
    /// Set when growing `output` failed: the connection cannot go on.
    int failed;
} wsgate_tls_io;

static inline int wsgate_tls_bio_write(BIO *bio, const char *data, int length) {
    wsgate_tls_io *io = (wsgate_tls_io *)BIO_get_data(bio);
    if (length <= 0) return 0;
    size_t needed = io->output_length + (size_t)length;
    if (needed > io->output_capacity) {
        size_t capacity = io->output_capacity ? io->output_capacity : 4096;
        while (capacity < needed) capacity *= 2;
        unsigned char *grown = (unsigned char *)realloc(io->output, capacity);
        if (grown == NULL) {
            io->failed = 1;
            return -1;
        }
        io->output = grown;
        io->output_capacity = capacity;
    }
    memcpy(io->output + io->output_length, data, (size_t)length);
    io->output_length = needed;
    return length;
}

static inline int wsgate_tls_bio_read(BIO *bio, char *data, int length) {
    wsgate_tls_io *io = (wsgate_tls_io *)BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (io->input_length == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t count = (size_t)length < io->input_length ? (size_t)length : io->input_length;
    memcpy(data, io->input, count);
    io->input += count;
    io->input_length -= count;
    return (int)count;
}

static inline long wsgate_tls_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    wsgate_tls_io *io = (wsgate_tls_io *)BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return (long)io->input_length;
    case BIO_CTRL_WPENDING: return 0;
    default: return 0;
    }
}

static inline int wsgate_tls_bio_create(BIO *bio) {
    BIO_set_init(bio, 1);
    return 1;
}

/// A new method table for the BIO above; made once per process.
static inline BIO_METHOD *wsgate_tls_bio_method_new(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsgate memory");
    if (method == NULL) return NULL;
    BIO_meth_set_write(method, wsgate_tls_bio_write);
    BIO_meth_set_read(method, wsgate_tls_bio_read);
    BIO_meth_set_ctrl(method, wsgate_tls_bio_ctrl);
    BIO_meth_set_create(method, wsgate_tls_bio_create);
    return method;
}

/// Makes `ssl` read from and write to `io`. The SSL object owns the BIO; the caller owns `io`.
static inline int wsgate_tls_attach(SSL *ssl, BIO_METHOD *method, wsgate_tls_io *io) {
    BIO *bio = BIO_new(method);
    if (bio == NULL) return 0;
    BIO_set_data(bio, io);
    SSL_set_bio(ssl, bio, bio);
    return 1;
}

/// Drops `length` written bytes from the front of `io->output`; frees the buffer once it is empty,
/// so that an idle connection holds none.
static inline void wsgate_tls_io_consume(wsgate_tls_io *io, size_t length) {
    if (length >= io->output_length) {
        free(io->output);
        io->output = NULL;
        io->output_length = 0;
        io->output_capacity = 0;
        return;
    }
    memmove(io->output, io->output + length, io->output_length - length);
    io->output_length -= length;
}

/// An ALPN selection callback that picks "http/1.1" when the client offers it, and otherwise
/// goes on without ALPN (a client that offers only h2 is not refused: RFC 7301 allows that).
static inline int wsgate_tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                         const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static inline void wsgate_SSL_CTX_use_http11_alpn(SSL_CTX *ctx) {
    SSL_CTX_set_alpn_select_cb(ctx, wsgate_tls_alpn_select, NULL);
}

/// The last error on this thread's OpenSSL error queue as text, clearing the queue; "" if none.
static inline void wsgate_tls_last_error(char *buffer, size_t size) {
    unsigned long code = ERR_peek_last_error();
    if (code == 0) {
        buffer[0] = 0;
    } else {
        ERR_error_string_n(code, buffer, size);
    }
    ERR_clear_error();
}

#endif
