import CAMQP
#if canImport(Glibc)
import Glibc
#endif

/// Owns C memory built for one rabbitmq-c call (strings, tables, property
/// structs) and frees all of it at once. Used only on a connection's thread,
/// by `AMQPMethod.send`, which keeps it alive until the frame is written.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    /// Copies `bytes` into arena memory as an `amqp_bytes_t`.
    func bytes<Bytes: Collection>(_ bytes: Bytes) -> amqp_bytes_t where Bytes.Element == UInt8 {
        let count = bytes.count
        guard count > 0 else { return amqp_bytes_t(len: 0, bytes: nil) }
        let memory = allocate(count)
        let buffer = UnsafeMutableRawBufferPointer(start: memory, count: count)
        buffer.copyBytes(from: bytes)
        return amqp_bytes_t(len: count, bytes: memory)
    }

    func bytes(_ text: String) -> amqp_bytes_t { bytes(text.utf8) }

    /// A NUL-terminated copy of `text`.
    func cString(_ text: String) -> UnsafePointer<CChar> {
        let utf8 = Array(text.utf8)
        let memory = allocate(utf8.count + 1).bindMemory(to: CChar.self, capacity: utf8.count + 1)
        for (index, byte) in utf8.enumerated() { memory[index] = CChar(bitPattern: byte) }
        memory[utf8.count] = 0
        return UnsafePointer(memory)
    }

    /// Uninitialized space for `count` values of `T`.
    func array<T>(of type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        allocate(max(1, count) * MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A C copy of `table`.
    func table(_ table: AMQPTable) -> amqp_table_t {
        guard !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = array(of: amqp_table_entry_t.self, count: table.count)
        // Sorted for a stable wire encoding (helps tests and packet captures).
        for (index, (key, value)) in table.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    /// A C copy of one field value.
    func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .bool(let v): field.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue); field.value.boolean = v ? 1 : 0
        case .int8(let v): field.kind = UInt8(AMQP_FIELD_KIND_I8.rawValue); field.value.i8 = v
        case .int16(let v): field.kind = UInt8(AMQP_FIELD_KIND_I16.rawValue); field.value.i16 = v
        case .int32(let v): field.kind = UInt8(AMQP_FIELD_KIND_I32.rawValue); field.value.i32 = v
        case .int64(let v): field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue); field.value.i64 = v
        case .uint8(let v): field.kind = UInt8(AMQP_FIELD_KIND_U8.rawValue); field.value.u8 = v
        case .uint16(let v): field.kind = UInt8(AMQP_FIELD_KIND_U16.rawValue); field.value.u16 = v
        case .uint32(let v): field.kind = UInt8(AMQP_FIELD_KIND_U32.rawValue); field.value.u32 = v
        case .float(let v): field.kind = UInt8(AMQP_FIELD_KIND_F32.rawValue); field.value.f32 = v
        case .double(let v): field.kind = UInt8(AMQP_FIELD_KIND_F64.rawValue); field.value.f64 = v
        case .string(let v): field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue); field.value.bytes = bytes(v)
        case .bytes(let v): field.kind = UInt8(AMQP_FIELD_KIND_BYTES.rawValue); field.value.bytes = bytes(v)
        case .timestamp(let v): field.kind = UInt8(AMQP_FIELD_KIND_TIMESTAMP.rawValue); field.value.u64 = v
        case .table(let v): field.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue); field.value.table = table(v)
        case .array(let values):
            let entries = array(of: amqp_field_value_t.self, count: values.count)
            for (index, element) in values.enumerated() { entries[index] = self.field(element) }
            field.kind = UInt8(AMQP_FIELD_KIND_ARRAY.rawValue)
            field.value.array = amqp_array_t(num_entries: Int32(values.count), entries: entries)
        case .void: field.kind = UInt8(AMQP_FIELD_KIND_VOID.rawValue)
        }
        return field
    }

    /// A C copy of `properties`, with the flags saying which are set.
    func properties(_ properties: AMQPProperties) -> amqp_basic_properties_t {
        var c = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int32, _ assign: (amqp_bytes_t) -> Void) {
            guard let value else { return }
            assign(bytes(value))
            flags |= UInt32(flag)
        }
        set(properties.contentType, AMQP_BASIC_CONTENT_TYPE_FLAG) { c.content_type = $0 }
        set(properties.contentEncoding, AMQP_BASIC_CONTENT_ENCODING_FLAG) { c.content_encoding = $0 }
        set(properties.correlationID, AMQP_BASIC_CORRELATION_ID_FLAG) { c.correlation_id = $0 }
        set(properties.replyTo, AMQP_BASIC_REPLY_TO_FLAG) { c.reply_to = $0 }
        set(properties.expiration, AMQP_BASIC_EXPIRATION_FLAG) { c.expiration = $0 }
        set(properties.messageID, AMQP_BASIC_MESSAGE_ID_FLAG) { c.message_id = $0 }
        set(properties.type, AMQP_BASIC_TYPE_FLAG) { c.type = $0 }
        set(properties.userID, AMQP_BASIC_USER_ID_FLAG) { c.user_id = $0 }
        set(properties.appID, AMQP_BASIC_APP_ID_FLAG) { c.app_id = $0 }
        if !properties.headers.isEmpty {
            c.headers = table(properties.headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        c.delivery_mode = properties.persistent ? 2 : 1
        flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        if let priority = properties.priority {
            c.priority = priority
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
        }
        if let timestamp = properties.timestamp {
            c.timestamp = timestamp
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        c._flags = flags
        return c
    }

    private func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        guard let memory = malloc(count) else { fatalError("out of memory allocating \(count) bytes") }
        blocks.append(memory)
        return memory
    }
}

/// Reading C values that rabbitmq-c decoded into its own buffers. Everything
/// is copied into Swift values at once: those buffers are recycled on the next
/// `amqp_maybe_release_buffers`.
enum CDecode {
    static func bytes(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let start = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: start, count: bytes.len))
    }

    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let start = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: start, count: bytes.len), as: UTF8.self)
    }

    static func table(_ table: amqp_table_t) -> AMQPTable {
        var result: AMQPTable = [:]
        guard table.num_entries > 0, let entries = table.entries else { return result }
        for index in 0..<Int(table.num_entries) {
            result[string(entries[index].key)] = field(entries[index].value)
        }
        return result
    }

    static func field(_ field: amqp_field_value_t) -> AMQPFieldValue {
        switch UInt32(field.kind) {
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: .bool(field.value.boolean != 0)
        case AMQP_FIELD_KIND_I8.rawValue: .int8(field.value.i8)
        case AMQP_FIELD_KIND_U8.rawValue: .uint8(field.value.u8)
        case AMQP_FIELD_KIND_I16.rawValue: .int16(field.value.i16)
        case AMQP_FIELD_KIND_U16.rawValue: .uint16(field.value.u16)
        case AMQP_FIELD_KIND_I32.rawValue: .int32(field.value.i32)
        case AMQP_FIELD_KIND_U32.rawValue: .uint32(field.value.u32)
        case AMQP_FIELD_KIND_I64.rawValue: .int64(field.value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: .int64(Int64(bitPattern: field.value.u64))
        case AMQP_FIELD_KIND_F32.rawValue: .float(field.value.f32)
        case AMQP_FIELD_KIND_F64.rawValue: .double(field.value.f64)
        case AMQP_FIELD_KIND_UTF8.rawValue: .string(string(field.value.bytes))
        case AMQP_FIELD_KIND_BYTES.rawValue: .bytes(bytes(field.value.bytes))
        case AMQP_FIELD_KIND_TIMESTAMP.rawValue: .timestamp(field.value.u64)
        case AMQP_FIELD_KIND_TABLE.rawValue: .table(table(field.value.table))
        case AMQP_FIELD_KIND_ARRAY.rawValue:
            .array((0..<Int(max(0, field.value.array.num_entries))).map { self.field(field.value.array.entries[$0]) })
        case AMQP_FIELD_KIND_DECIMAL.rawValue:
            .double(Double(field.value.decimal.value) / pow10(Int(field.value.decimal.decimals)))
        default: .void
        }
    }

    static func properties(_ c: amqp_basic_properties_t) -> AMQPProperties {
        let flags = c._flags
        func has(_ flag: Int32) -> Bool { flags & UInt32(flag) != 0 }
        var p = AMQPProperties()
        if has(AMQP_BASIC_CONTENT_TYPE_FLAG) { p.contentType = string(c.content_type) }
        if has(AMQP_BASIC_CONTENT_ENCODING_FLAG) { p.contentEncoding = string(c.content_encoding) }
        if has(AMQP_BASIC_HEADERS_FLAG) { p.headers = table(c.headers) }
        if has(AMQP_BASIC_DELIVERY_MODE_FLAG) { p.persistent = c.delivery_mode == 2 }
        if has(AMQP_BASIC_PRIORITY_FLAG) { p.priority = c.priority }
        if has(AMQP_BASIC_CORRELATION_ID_FLAG) { p.correlationID = string(c.correlation_id) }
        if has(AMQP_BASIC_REPLY_TO_FLAG) { p.replyTo = string(c.reply_to) }
        if has(AMQP_BASIC_EXPIRATION_FLAG) { p.expiration = string(c.expiration) }
        if has(AMQP_BASIC_MESSAGE_ID_FLAG) { p.messageID = string(c.message_id) }
        if has(AMQP_BASIC_TIMESTAMP_FLAG) { p.timestamp = c.timestamp }
        if has(AMQP_BASIC_TYPE_FLAG) { p.type = string(c.type) }
        if has(AMQP_BASIC_USER_ID_FLAG) { p.userID = string(c.user_id) }
        if has(AMQP_BASIC_APP_ID_FLAG) { p.appID = string(c.app_id) }
        return p
    }

    private static func pow10(_ exponent: Int) -> Double {
        (0..<exponent).reduce(1.0) { value, _ in value * 10 }
    }
}
