#include "leaf_fields.hpp"

#include "layout.hpp"

#include <cstdlib>

namespace milkc {

namespace {

LeafKind kind_of(PrimitiveKind kind) {
    switch (kind) {
    case PrimitiveKind::Bool: return LeafKind::Bool;
    case PrimitiveKind::U8:
    case PrimitiveKind::U16:
    case PrimitiveKind::U32:
    case PrimitiveKind::U64: return LeafKind::Unsigned;
    case PrimitiveKind::I8:
    case PrimitiveKind::I16:
    case PrimitiveKind::I32:
    case PrimitiveKind::I64: return LeafKind::Signed;
    case PrimitiveKind::F32:
    case PrimitiveKind::F64: return LeafKind::Float;
    case PrimitiveKind::Bytes: return LeafKind::Bytes;
    }
    std::abort();  // Our bug: a PrimitiveKind this switch does not know.
}

void add_leaves(const TypeRef& type, const std::string& path, std::uint64_t offset, std::vector<LeafField>& out) {
    switch (type.kind) {
    case TypeRef::Kind::Primitive:
        out.push_back(LeafField{path, offset, static_cast<std::uint32_t>(layout_of(type).size), kind_of(type.primitive)});
        return;
    case TypeRef::Kind::Named:
        if (type.resolved_enum != nullptr) {
            out.push_back(LeafField{path, offset, static_cast<std::uint32_t>(layout_of(type).size), LeafKind::Enum,
                                    type.resolved_enum});
        } else if (type.resolved_struct != nullptr) {
            const RecordLayout record = layout_of(*type.resolved_struct);
            for (const FieldLayout& field : record.fields)
                add_leaves(field.field->type, path + "." + field.field->name, offset + field.offset, out);
        }
        return;
    case TypeRef::Kind::Array: {
        const std::uint64_t stride = layout_of(*type.element).size;
        for (std::uint64_t i = 0; i < type.array_size; ++i)
            add_leaves(*type.element, path + "[" + std::to_string(i) + "]", offset + i * stride, out);
        return;
    }
    }
}

}  // namespace

std::vector<LeafField> leaf_fields(const MessageDecl& message) {
    std::vector<LeafField> leaves;
    const RecordLayout record = layout_of(message);
    for (const FieldLayout& field : record.fields) add_leaves(field.field->type, field.field->name, field.offset, leaves);
    return leaves;
}

}  // namespace milkc
