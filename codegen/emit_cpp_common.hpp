// Internal to the C++ emitter (emit_cpp*.cpp): naming and type spelling
// shared by its parts. Not used by the other emitters.
//
// The emitter is split by what it writes: emit_cpp.cpp writes the file (types,
// messages, the driver), emit_cpp_codec.cpp the wire encoders and decoders,
// emit_cpp_endpoints.cpp the endpoint classes and the protocol table.
#pragma once

#include "generated_names.hpp"

#include "ast.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace milkc::cpp {

// The names generated code uses in a contract's namespace are in
// generated_names.hpp, shared with the checks.
using milkc::contract_scope_names;


// What names are visible where a type is spelled, so that a file-level enum
// or struct whose name is hidden (by a message of the same name, or by a
// field of the same name in the record being declared) is written with its
// full namespace instead.
struct Scope {
    // `package a.b;` -> "::a::b"
    std::string package_qualifier;
    // Names declared in the enclosing contract (messages) and by milkc; empty
    // at file level.
    std::vector<std::string> hiding_names;
};

// "std::uint32_t", "milk::Buffer", "Mode", "std::array<Point, 4>"...
[[nodiscard]] std::string type_name(const TypeRef& type, const Scope& scope);

// The C++ type of a primitive (bytes: milk::Buffer).
[[nodiscard]] std::string primitive_name(PrimitiveKind kind);

// The wire form of a bool or an enum's underlying type: the unsigned integer
// read from the slot before it is validated.
[[nodiscard]] std::string unsigned_name(PrimitiveKind kind);

// Whether the type's every bit pattern is a valid value (numbers, arrays of
// numbers). Such values are read with one copy and need no validation;
// everything else (bool, enums, structs) is read field by field.
[[nodiscard]] bool is_plain_number(const TypeRef& type);

// "PingPong", the qualified C++ namespace "demo::ping", and so on.
[[nodiscard]] std::string package_namespace(const File& file);

// `head(` + parameters + `) {` on one line when it fits in 120 columns,
// otherwise the parameters on a continuation line indented by 4.
[[nodiscard]] std::string function_head(const std::string& head, const std::string& parameters,
                                        const std::string& tail);

// Appends `// text` lines of a doc comment at the given indentation.
void append_doc(std::string& out, std::string_view indent, const DocComment& doc);

// Whether the client speaks in `state`. A state's transitions all go one way
// (checked), so a state is either the client's or the server's turn.
[[nodiscard]] bool client_sends(const StateDecl& state);

// The wire encoders/decoders and message descriptions of one contract.
void emit_codec(std::string& out, const ContractDecl& contract, const Scope& scope);

// The Boost.Hana protocol table of one contract.
void emit_protocol_table(std::string& out, const ContractDecl& contract);

// Client<S> and Server<S> for every state, the factories and open_inproc().
// `qualified_name` is the contract's wire name, "package.Contract".
void emit_endpoints(std::string& out, const ContractDecl& contract, std::string_view qualified_name,
                    std::uint32_t identity);

}  // namespace milkc::cpp
