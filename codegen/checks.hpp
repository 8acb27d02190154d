// The semantic checks of a parsed contract file.
//
// They resolve names in place (TypeRef::resolved_*, Transition::resolved_*,
// ContractDecl::initial), number messages (tags, 1-based) and states
// (indices, 0-based), and report every ill-formed construct with its
// numbered diagnostic. A check that depends on an earlier one is skipped
// where the earlier one failed (no layout for a type that did not resolve,
// no reachability for a contract whose transitions do not), so that one
// mistake gives one diagnostic.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace milkc {

// Runs every check on `file`; problems go to `sink`, in the order found.
void check(File& file, DiagnosticSink& sink);

// "did you mean `Waiting`?" for the candidate closest to `name`, when one is
// close enough to be a typo (empty otherwise); the first wins a tie.
[[nodiscard]] std::string suggest_name(std::string_view name, const std::vector<std::string_view>& candidates);

// What a name names, for the reserved-name rules (E0060).
enum class NameRole : std::uint8_t {
    Package,         // a component of the package name
    FirstPackage,    // the first component of the package name
    Type,            // enum, struct or contract: a declaration in the package namespace
    Message,         // a struct in the contract's namespace
    State,           // a tag type in the contract's `state` namespace
    Field,           // a member of a generated struct
    EnumMember,      // an enumerator of a generated scoped enum
};

// Why `name` may not be used in `role`, or nothing when it may. The lists
// behind it are documented in docs/diagnostics.md (E0060).
[[nodiscard]] std::optional<std::string> reserved_name_reason(std::string_view name, NameRole role);

}  // namespace milkc
