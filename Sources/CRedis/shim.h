// The C edge for Redis: hiredis's header plus helpers prefixed `credis_`.
// `redisCommand` is variadic and unusable from Swift; Broker uses the
// binary-safe `redisAppendCommandArgv` / `redisGetReply` pair instead.
#ifndef GREENROOM_CREDIS_SHIM_H
#define GREENROOM_CREDIS_SHIM_H

#include <hiredis/hiredis.h>

/// The context's error text (a fixed-size char array that Swift sees as a tuple).
static inline const char *credis_errstr(const redisContext *context) {
    return context->errstr;
}

/// The context's error code (REDIS_ERR_IO, REDIS_ERR_EOF, …), 0 when healthy.
static inline int credis_err(const redisContext *context) {
    return context->err;
}

/// The context's socket, for polling.
static inline int credis_fd(const redisContext *context) {
    return context->fd;
}

#endif
