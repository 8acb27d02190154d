#include "layout.hpp"

#include <cstdlib>

namespace milkc {

namespace {

std::uint64_t align_up(std::uint64_t value, std::uint32_t align) {
    return (value + align - 1) / align * align;
}

}  // namespace

TypeLayout layout_of(PrimitiveKind kind) {
    switch (kind) {
    case PrimitiveKind::Bool:
    case PrimitiveKind::U8:
    case PrimitiveKind::I8: return {1, 1};
    case PrimitiveKind::U16:
    case PrimitiveKind::I16: return {2, 2};
    case PrimitiveKind::U32:
    case PrimitiveKind::I32:
    case PrimitiveKind::F32: return {4, 4};
    case PrimitiveKind::U64:
    case PrimitiveKind::I64:
    case PrimitiveKind::F64: return {8, 8};
    case PrimitiveKind::Bytes: return {wire_bytes_size, wire_bytes_align};
    }
    std::abort();  // Our bug: a PrimitiveKind this switch does not know.
}

TypeLayout layout_of(const TypeRef& type) {
    switch (type.kind) {
    case TypeRef::Kind::Primitive: return layout_of(type.primitive);
    case TypeRef::Kind::Named:
        if (type.resolved_enum != nullptr) return layout_of(type.resolved_enum->underlying);
        if (type.resolved_struct != nullptr) {
            RecordLayout record = layout_of(*type.resolved_struct);
            return {record.size, record.align};
        }
        break;
    case TypeRef::Kind::Array: {
        TypeLayout element = layout_of(*type.element);
        return {element.size * type.array_size, element.align};
    }
    }
    std::abort();  // Caller's bug: layout of an unresolved type; the checks must run first.
}

RecordLayout layout_of_fields(const std::vector<Field>& fields) {
    RecordLayout record;
    std::uint64_t offset = 0;
    for (const Field& field : fields) {
        TypeLayout type = layout_of(field.type);
        offset = align_up(offset, type.align);
        record.fields.push_back({&field, offset, type});
        offset += type.size;
        if (type.align > record.align) record.align = type.align;
    }
    record.size = align_up(offset, record.align);
    return record;
}

}  // namespace milkc
