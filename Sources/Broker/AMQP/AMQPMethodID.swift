import CAMQP

/// AMQP 0-9-1 method ids (class << 16 | method). rabbitmq-c defines them as
/// cast macros, which Swift does not import, so the ones we use live here.
enum AMQPMethodID {
    static let connectionClose: amqp_method_number_t = 0x000A_0032
    static let connectionCloseOK: amqp_method_number_t = 0x000A_0033
    static let connectionBlocked: amqp_method_number_t = 0x000A_003C
    static let connectionUnblocked: amqp_method_number_t = 0x000A_003D
    static let channelOpen: amqp_method_number_t = 0x0014_000A
    static let channelOpenOK: amqp_method_number_t = 0x0014_000B
    static let channelFlow: amqp_method_number_t = 0x0014_0014
    static let channelFlowOK: amqp_method_number_t = 0x0014_0015
    static let channelClose: amqp_method_number_t = 0x0014_0028
    static let channelCloseOK: amqp_method_number_t = 0x0014_0029
    static let exchangeDeclare: amqp_method_number_t = 0x0028_000A
    static let exchangeDeclareOK: amqp_method_number_t = 0x0028_000B
    static let exchangeDelete: amqp_method_number_t = 0x0028_0014
    static let exchangeDeleteOK: amqp_method_number_t = 0x0028_0015
    static let queueDeclare: amqp_method_number_t = 0x0032_000A
    static let queueDeclareOK: amqp_method_number_t = 0x0032_000B
    static let queueBind: amqp_method_number_t = 0x0032_0014
    static let queueBindOK: amqp_method_number_t = 0x0032_0015
    static let queuePurge: amqp_method_number_t = 0x0032_001E
    static let queuePurgeOK: amqp_method_number_t = 0x0032_001F
    static let queueDelete: amqp_method_number_t = 0x0032_0028
    static let queueDeleteOK: amqp_method_number_t = 0x0032_0029
    static let queueUnbind: amqp_method_number_t = 0x0032_0032
    static let queueUnbindOK: amqp_method_number_t = 0x0032_0033
    static let basicQos: amqp_method_number_t = 0x003C_000A
    static let basicQosOK: amqp_method_number_t = 0x003C_000B
    static let basicConsume: amqp_method_number_t = 0x003C_0014
    static let basicConsumeOK: amqp_method_number_t = 0x003C_0015
    static let basicCancel: amqp_method_number_t = 0x003C_001E
    static let basicCancelOK: amqp_method_number_t = 0x003C_001F
    static let basicPublish: amqp_method_number_t = 0x003C_0028
    static let basicReturn: amqp_method_number_t = 0x003C_0032
    static let basicDeliver: amqp_method_number_t = 0x003C_003C
    static let basicAck: amqp_method_number_t = 0x003C_0050
    static let basicReject: amqp_method_number_t = 0x003C_005A
    static let basicNack: amqp_method_number_t = 0x003C_0078
    static let confirmSelect: amqp_method_number_t = 0x0055_000A
    static let confirmSelectOK: amqp_method_number_t = 0x0055_000B
}
