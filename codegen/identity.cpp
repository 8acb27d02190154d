#include "identity.hpp"

#include "lexer.hpp"

#include <cstdio>
#include <set>
#include <vector>

namespace milkc {
namespace {

std::string package_of(const File& file) {
    std::string text;
    for (const std::string& part : file.package) text += (text.empty() ? "" : ".") + part;
    return text;
}

// Writes the normalized form: the contract's own lines, then every named
// type it reaches, each once, in the order first reached.
class Normalizer {
public:
    explicit Normalizer(const File& file) : m_file(file) {}

    std::string run(const ContractDecl& contract) {
        m_text = "contract " + package_of(m_file) + "." + contract.name + "\n";
        for (const MessageDecl& message : contract.messages) {
            m_text += "message " + std::to_string(message.tag) + " " + message.name + "(" + fields(message.fields) +
                      ")\n";
        }
        for (const StateDecl& state : contract.states) {
            m_text += "state " + std::to_string(state.index) +
                      (state.is_initial() ? " initial " : state.is_entry() ? " entry " : " ") +
                      state.name + " {";
            for (const Transition& transition : state.transitions) {
                m_text += std::string(transition.direction == Direction::Send ? " send " : " recv ") +
                          transition.message + " -> " + transition.target + ";";
            }
            if (state.may_close) m_text += " close;";
            m_text += " }\n";
        }
        // Named types, breadth first: a struct's fields may reach more.
        for (std::size_t i = 0; i < m_types.size(); ++i) write_type(m_types[i]);
        return m_text;
    }

private:
    struct NamedType {
        const EnumDecl* enumeration = nullptr;
        const StructDecl* structure = nullptr;
    };

    std::string fields(const std::vector<Field>& list) {
        std::string text;
        for (const Field& field : list) {
            if (!text.empty()) text += ", ";
            text += type(field.type) + " " + field.name;
        }
        return text;
    }

    std::string type(const TypeRef& ref) {
        switch (ref.kind) {
        case TypeRef::Kind::Primitive: return std::string(primitive_name(ref.primitive));
        case TypeRef::Kind::Array: return type(*ref.element) + "[" + std::to_string(ref.array_size) + "]";
        case TypeRef::Kind::Named: break;
        }
        if (ref.resolved_enum != nullptr && m_seen.insert(ref.resolved_enum).second)
            m_types.push_back({ref.resolved_enum, nullptr});
        if (ref.resolved_struct != nullptr && m_seen.insert(ref.resolved_struct).second)
            m_types.push_back({nullptr, ref.resolved_struct});
        return ref.name;
    }

    void write_type(const NamedType& named) {
        if (named.enumeration != nullptr) {
            const EnumDecl& decl = *named.enumeration;
            m_text += "enum " + decl.name + " : " + (decl.is_flags() ? "flags " : "") +
                      std::string(primitive_name(decl.underlying)) + " {";
            for (const EnumMember& member : decl.members) {
                m_text += " " + member.name + " = " + std::to_string(member.value) + ";";
            }
            m_text += " }\n";
            return;
        }
        const StructDecl& decl = *named.structure;
        m_text += "struct " + decl.name + " { " + fields(decl.fields) + " }\n";
    }

    const File& m_file;
    std::string m_text;
    std::vector<NamedType> m_types;
    std::set<const void*> m_seen;
};

}  // namespace

std::string normalized_form(const File& file, const ContractDecl& contract) {
    return Normalizer(file).run(contract);
}

std::uint32_t contract_identity(const File& file, const ContractDecl& contract) {
    const std::string text = normalized_form(file, contract);
    std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    const auto folded = static_cast<std::uint32_t>(hash ^ (hash >> 32));
    return folded == 0 ? 1 : folded;
}

std::string identity_string(std::uint32_t identity) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", identity);
    return text;
}

}  // namespace milkc
