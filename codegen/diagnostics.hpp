// Numbered diagnostics, collected per file and rendered as
//
//   FILE:LINE:COL: error[E0001]: message
//    LINE | source text
//         |     ^
//         = hint: ...
//
// Every code is listed in docs/diagnostics.md and has a test case under
// contracts/testdata/bad/E####-name.contract.
#pragma once

#include "ast.hpp"
#include "source.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace milkc {

// The numbered diagnostics milkc can report. The number is part of the
// user-facing interface: never renumber, only add.
enum class DiagnosticCode : std::uint16_t {
    SyntaxError = 1,            // E0001 unexpected token
    InvalidCharacter = 2,       // E0002 a character that starts no token, unterminated comment
    BadIntegerLiteral = 3,      // E0003 malformed or out-of-range integer literal
    InvalidComment = 4,         // E0004 a comment that is not valid UTF-8, or holds a NUL byte
    DuplicateType = 10,         // E0010 two enums/structs/contracts with one name
    DuplicateField = 11,        // E0011 two fields of a struct or message with one name
    DuplicateMessage = 12,      // E0012 two messages of a contract with one name
    DuplicateState = 13,        // E0013 two states of a contract with one name
    DuplicateEnumMember = 14,   // E0014 two enum members with one name
    DuplicateEnumValue = 15,    // E0015 two enum members with one value
    DuplicateTransition = 16,   // E0016 one message twice in one state
    UnknownType = 20,           // E0020 a field names a type that does not exist
    UnknownMessage = 21,        // E0021 a transition names a message that does not exist
    UnknownState = 22,          // E0022 a transition targets a state that does not exist
    UnknownBase = 23,           // E0023 a contract extends one the file does not declare
    ExtensionCycle = 24,        // E0024 a contract extends itself, directly or through others
    UnknownProtocol = 25,       // E0025 a transition calls a sub-protocol the contract does not have
    ProtocolRecursion = 26,     // E0026 a sub-protocol calls itself, directly or through others
    MixedDirections = 30,       // E0030 a state with both send and recv
    UnreachableState = 31,      // E0031 a state not reachable from initial
    MissingInitial = 32,        // E0032 no initial state
    DuplicateInitial = 33,      // E0033 more than one initial state
    MessageTooLarge = 40,       // E0040 inline size exceeds the ring slot payload
    EnumValueOverflow = 41,     // E0041 enum value does not fit the underlying type
    ZeroArraySize = 42,         // E0042 T[0]
    RecursiveStruct = 43,       // E0043 a struct containing itself
    BytesNotAllowedHere = 44,   // E0044 bytes inside a struct or array
    BadEnumUnderlying = 45,     // E0045 enum underlying type not u8..u64
    EmptyEnum = 46,             // E0046 enum without members
    EmptyStruct = 47,           // E0047 struct without fields (C and C++ disagree on its size)
    FlagNotABit = 48,           // E0048 a flags enum member whose value is not a single bit
    Deadlock = 50,              // E0050 model check: a reachable configuration where nobody can move
    UnspecifiedReception = 51,  // E0051 model check: a message arrives where the receiver cannot take it
    Race = 52,                  // E0052 model check: two messages sent from one state cross in flight
    ReservedName = 60,          // E0060 a name that is a C++ or C keyword, or reserved by milkc
    NestingTooDeep = 70,        // E0070 a field type nests deeper than limits::max_nesting_depth
    TooMany = 71,               // E0071 a file over one of the count limits of limits.hpp
    // milkc --compat OLD NEW: a server built from NEW must serve clients built from OLD.
    CompatMissingContract = 80,  // E0080 a contract of the old file is not in the new one
    CompatMessageChanged = 81,   // E0081 an old message has another tag or wire layout
    CompatStateChanged = 82,     // E0082 an old state is gone, renumbered, or no longer (or newly) initial
    CompatTransitionChanged = 83,  // E0083 an old transition is gone, or goes elsewhere
    CompatServerSendsNew = 84,   // E0084 the new server may send an old client what it cannot take
};

// "E0001" for DiagnosticCode::SyntaxError.
[[nodiscard]] std::string code_string(DiagnosticCode code);

struct Diagnostic {
    DiagnosticCode code;
    Location location;
    std::string message;
    std::string hint;  // empty when there is none
};

// How many errors of one file milkc shows; the rest are counted. A file of
// random bytes has an error every few bytes, and a user reads the first few.
inline constexpr std::size_t default_error_limit = 50;

// Whether a sink keeps every diagnostic (to sort them before showing) or
// only the first `default_error_limit` (what a user sees).
enum class ErrorLimit : std::uint8_t { Unlimited, Default };

// Collects the diagnostics of one file. Checks keep going after an error so
// that a user sees every problem of a file at once.
class DiagnosticSink {
public:
    explicit DiagnosticSink(const SourceFile& source, ErrorLimit limit = ErrorLimit::Default)
        : m_source(&source), m_limit(limit == ErrorLimit::Default ? default_error_limit : SIZE_MAX) {}

    void error(DiagnosticCode code, Location location, std::string message, std::string hint = {});

    [[nodiscard]] bool has_errors() const { return !m_diagnostics.empty(); }
    // The diagnostics kept, in the order reported: at most the limit.
    [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const { return m_diagnostics; }
    // How many errors were reported, kept or not.
    [[nodiscard]] std::size_t error_count() const { return m_diagnostics.size() + m_suppressed; }
    // How many errors were reported beyond the limit and not kept.
    [[nodiscard]] std::size_t suppressed() const { return m_suppressed; }

    // The diagnostics kept, in the order reported, rendered as documented
    // above, and a note with the number of the others.
    [[nodiscard]] std::string render() const;

private:
    const SourceFile* m_source;
    std::size_t m_limit;
    std::size_t m_suppressed = 0;
    std::vector<Diagnostic> m_diagnostics;
};

}  // namespace milkc
