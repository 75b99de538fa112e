/*
 * pinned_rand: makes a benchmark's `openssl s_server` repeat itself.
 *
 * Preloaded into s_server (LD_PRELOAD), it installs a RAND_METHOD whose output is a fixed
 * sequence, restarted each time the server accepts a connection. Every connection then gets
 * the same server random, the same key share and the same ECDSA nonce, so for a client that
 * also repeats its ClientHello the server's whole flight -- CertificateVerify signature
 * included -- is identical from run to run. ECDSA verification time depends on the
 * signature, so without this a client's full handshake varies by a few tenths of a percent.
 *
 * FOR MEASUREMENTS ONLY: the server's ephemeral keys and nonces become predictable.
 *
 * OpenSSL 3 still honours a replaced RAND_METHOD (a deprecated API) in RAND_bytes_ex and
 * RAND_priv_bytes_ex, which the TLS layer and the default provider's key generation and
 * ECDSA signing draw from. Build (links libcrypto so that it is initialised first):
 *
 *     gcc -shared -fPIC -O2 -Wall -Wextra -o libpinnedrand.so pinned_rand.c -l:libcrypto.so.3
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <sys/socket.h>

/* OpenSSL's RAND_METHOD, declared here so that no OpenSSL headers are needed. */
struct rand_method {
    int (*seed)(const void *buf, int num);
    int (*bytes)(unsigned char *buf, int num);
    void (*cleanup)(void);
    int (*add)(const void *buf, int num, double randomness);
    int (*pseudorand)(unsigned char *buf, int num);
    int (*status)(void);
};

extern int RAND_set_rand_method(const struct rand_method *meth);

static const uint64_t START = 0x456e636f72652031ULL;
static uint64_t state = START;

/* SplitMix64: a 64-bit counter through a bijective mixer. */
static uint64_t next_word(void)
{
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int pinned_bytes(unsigned char *buf, int num)
{
    while (num > 0) {
        uint64_t w = next_word();
        for (int i = 0; i < 8 && num > 0; i++, num--) {
            *buf++ = (unsigned char)(w >> (8 * i));
        }
    }
    return 1;
}

static int pinned_seed(const void *buf, int num)
{
    (void)buf;
    (void)num;
    return 1;
}

static int pinned_add(const void *buf, int num, double randomness)
{
    (void)buf;
    (void)num;
    (void)randomness;
    return 1;
}

static int pinned_status(void)
{
    return 1;
}

static const struct rand_method PINNED = {
    pinned_seed, pinned_bytes, 0, pinned_add, pinned_bytes, pinned_status,
};

__attribute__((constructor)) static void install(void)
{
    RAND_set_rand_method(&PINNED);
}

/* Each accepted connection starts the sequence again. Exported explicitly, so that it
 * interposes libc's accept even when built with -fvisibility=hidden. */
__attribute__((visibility("default"))) int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    static int (*real_accept)(int, struct sockaddr *, socklen_t *);
    if (!real_accept) {
        real_accept = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
        if (!real_accept) {
            return -1;
        }
    }
    int s = real_accept(fd, addr, len);
    if (s >= 0) {
        state = START;
    }
    return s;
}
