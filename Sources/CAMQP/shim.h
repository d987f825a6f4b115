// The C edge for RabbitMQ: rabbitmq-c's headers plus the few helpers Swift
// cannot express itself. Every helper is `static inline` and prefixed `camqp_`.
#ifndef GREENROOM_CAMQP_SHIM_H
#define GREENROOM_CAMQP_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>

/// `amqp_login_with_properties` is variadic (its SASL arguments), which Swift
/// cannot call; this fixes the method to PLAIN with a user name and password.
static inline amqp_rpc_reply_t camqp_login_plain(amqp_connection_state_t state,
                                                 const char *vhost,
                                                 int channel_max,
                                                 int frame_max,
                                                 int heartbeat,
                                                 const amqp_table_t *properties,
                                                 const char *user,
                                                 const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

#endif
