/// A Redis server's address: a cluster seed, or a node of the slot map.
public typealias RedisEndpoint = ServerEndpoint
