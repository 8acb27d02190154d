// The emitters: each turns one checked File into the text of one output file.
//
// Emitters are pure functions of the tree and the context: same input, same
// bytes out (golden tests rely on it). They never fail; everything that could
// make generated code ill-formed is rejected by the checks before.
#pragma once

#include "ast.hpp"

#include <string>

namespace milkc {

struct EmitContext {
    // The contract file's name as the banner shows it: the base name only,
    // so output does not depend on where the tree is checked out.
    std::string source_name;
    // milkc's version, for the banner.
    std::string milkc_version;
};

// fs.contract -> fs.hpp
[[nodiscard]] std::string emit_cpp(const File& file, const EmitContext& context);
// fs.contract -> fs.kstub.h
[[nodiscard]] std::string emit_kernel(const File& file, const EmitContext& context);
// fs.contract -> fs.dot
[[nodiscard]] std::string emit_dot(const File& file, const EmitContext& context);
// fs.contract -> fs.pml
[[nodiscard]] std::string emit_promela(const File& file, const EmitContext& context);

}  // namespace milkc
